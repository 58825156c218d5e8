import ArgumentParser
import GigaChatProtocol

/// What a chat request carries besides its messages; shared by one-shot chat and the REPL.
struct ChatOptions: ParsableArguments {
    @Option(name: [.short, .long], help: ArgumentHelp("Model (default: the daemon's GIGACHAT_MODEL).", valueName: "name"))
    var model: String?

    @Option(name: [.short, .long], help: ArgumentHelp("System prompt.", valueName: "text"))
    var system: String?

    @Option(name: .long, help: ArgumentHelp("Sampling temperature.", valueName: "t"))
    var temperature: Double?

    @Option(name: .long, help: ArgumentHelp("Limit the reply's length in tokens.", valueName: "n"))
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

    func validate() throws {
        if let temperature, !(temperature >= 0) { throw ValidationError("--temperature must be >= 0") }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if let conversation, conversation.isEmpty { throw ValidationError("--conversation needs a name") }
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
