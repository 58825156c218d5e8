import ArgumentParser
import GigaChatProtocol

/// What a chat request carries besides its messages; shared by one-shot chat and the REPL.
struct ChatOptions: ParsableArguments {
    @Option(
        name: [.short, .long],
        help: ArgumentHelp(
            "Model (default: the role's, else $GIGACHATCTL_MODEL, else the daemon's GIGACHAT_MODEL).",
            valueName: "name"
        ),
        completion: Completions.chatModels
    )
    var model: String?

    @Option(name: [.short, .long], parsing: .unconditional, help: ArgumentHelp("System prompt (replaces the role's).", valueName: "text"))
    var system: String?

    @Option(
        name: [.short, .long],
        help: ArgumentHelp(
            "Use the saved role NAME: a system prompt and defaults in $XDG_CONFIG_HOME/gigachat/roles/NAME "
                + "(default: $GIGACHATCTL_ROLE).",
            valueName: "name"
        )
    )
    var role: String?

    // Unconditional: "--temperature -1" reaches validate() and gets a clear message, instead of "-1"
    // being taken for an option.
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Sampling temperature (0 or more).", valueName: "t"))
    var temperature: Double?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Limit the reply's length in tokens (1 or more).", valueName: "n"))
    var maxTokens: Int?

    @Option(name: .long, help: ArgumentHelp("X-Session-ID for the API's prompt cache.", valueName: "id"))
    var session: String?

    @Option(
        name: [.customShort("c"), .long],
        help: ArgumentHelp(
            "Continue the conversation NAME that gigachatd keeps (see `gigachatctl conversations`).",
            valueName: "name"
        ),
        completion: Completions.conversationNames
    )
    var conversation: String?

    @Flag(name: [.customShort("C"), .customLong("continue")], help: "Continue the last chat, named or not.")
    var continueLast = false

    @Option(
        name: .customLong("function"),
        help: ArgumentHelp(
            "A JSON file with one function definition or a list of them; the model may call one (repeatable).",
            valueName: "file.json"
        ),
        completion: .file(extensions: ["json"])
    )
    var functionFiles: [String] = []

    @Flag(name: .long, help: "Wait for the whole reply instead of streaming it.")
    var noStream = false

    @Flag(
        name: [.short, .customLong("usage"), .customLong("verbose")],
        help: "After the reply, show the tokens used (in, cached, out) and the time taken, on standard error."
    )
    var usage = false

    func validate() throws {
        if let temperature, !(temperature >= 0) { throw ValidationError("--temperature must be 0 or more (got \(temperature))") }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1 (got \(maxTokens))") }
        if let conversation, conversation.isEmpty { throw ValidationError("--conversation needs a name") }
        if continueLast, conversation != nil {
            throw ValidationError("--continue and --conversation both say which conversation to continue; give one")
        }
    }

    /// The function definitions from every --function file, in order.
    func loadFunctions() throws -> [JSONValue] {
        var functions: [JSONValue] = []
        for path in functionFiles {
            let value: JSONValue
            do {
                value = try LocalFile.readJSON(path)
            } catch {
                throw ClientExit.usageError("--function: \(error.message)")
            }
            switch value {
            case .object(let object):
                guard object["name"]?.stringValue != nil else {
                    throw ClientExit.usageError("--function: \(path): a function needs a \"name\"")
                }
                functions.append(value)
            case .array(let list):
                guard list.allSatisfy({ $0["name"]?.stringValue != nil }) else {
                    throw ClientExit.usageError("--function: \(path): every function in the list needs a \"name\"")
                }
                functions += list
            default:
                throw ClientExit.usageError("--function: \(path): expected a function object or a list of them, got \(value.typeName)")
            }
        }
        return functions
    }
}
