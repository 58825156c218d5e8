import ArgumentParser
import GigaChatProtocol

/// The two chat contracts of gigachatd: `chat` (v1) and `chat.create` (v2).
enum ChatAPI: String, ExpressibleByArgument, CaseIterable {
    case v1, v2
}

/// `model_options.reasoning.effort` (v2), `reasoning_effort` (v1).
enum ReasoningEffort: String, ExpressibleByArgument, CaseIterable {
    case low, medium, high
}

/// The API's built-in tools that gigachatctl switches on by flag (v2 only).
enum BuiltInTool: String, CaseIterable {
    case webSearch = "web_search"
    case readURLs = "url_content_extraction"
    case code = "code_interpreter"
    case image = "image_generate"

    /// The entry of the request's `tools` list.
    var definition: JSONValue {
        switch self {
        case .webSearch: return ["web_search": ["type": "actual_info_web_search"]]
        default: return .object([rawValue: .object([:])])
        }
    }

    /// The flag (and REPL command) that turns it on, for messages.
    var flag: String {
        switch self {
        case .webSearch: return "--web-search"
        case .readURLs: return "--read-urls"
        case .code: return "--code"
        case .image: return "--image"
        }
    }

    /// What a person is told while it runs.
    var progress: String {
        switch self {
        case .webSearch: return "searching the web"
        case .readURLs: return "reading the page"
        case .code: return "running code"
        case .image: return "drawing"
        }
    }
}

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

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The chat contract: v2 (content parts, built-in tools) or v1, the older one (default: $GIGACHATCTL_API, else v2).",
            valueName: "version"
        ),
        completion: .list(ChatAPI.allCases.map(\.rawValue))
    )
    var api: ChatAPI?

    @Flag(name: .long, help: "Let the model search the web; its sources are listed after the reply.")
    var webSearch = false

    @Flag(name: .long, help: "Let the model read the pages whose URLs the prompt names.")
    var readUrls = false

    @Flag(name: .long, help: "Let the model write and run code (the API's code interpreter).")
    var code = false

    @Flag(name: .long, help: "Let the model draw: the images it makes are saved in --output-dir and their paths printed.")
    var image = false

    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Where files the model makes are saved (default: the current directory).", valueName: "dir"),
        completion: .directory
    )
    var outputDir: String?

    @Option(
        name: .long,
        help: ArgumentHelp("How hard a reasoning model thinks; its thinking is shown dimmed on a terminal's stderr.", valueName: "effort"),
        completion: .list(ReasoningEffort.allCases.map(\.rawValue))
    )
    var reasoning: ReasoningEffort?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Answer in JSON following this JSON Schema (a file, or the schema itself); the reply is checked and printed as JSON.",
            valueName: "file|json"
        ),
        completion: .file(extensions: ["json"])
    )
    var schema: String?

    @Option(name: .long, help: ArgumentHelp("Answer with text that matches this regular expression.", valueName: "re"))
    var regex: String?

    @Option(
        name: [.short, .long],
        help: ArgumentHelp(
            "Send FILE with the prompt (repeatable); uploaded once, the same content is not uploaded again.",
            valueName: "file"
        ),
        completion: .file()
    )
    var attach: [String] = []

    @Flag(name: [.short, .long], help: "Show no reasoning and no tool progress, only the reply.")
    var quiet = false

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
        if schema != nil, regex != nil { throw ValidationError("--schema and --regex both say what the reply must look like; give one") }
        if let regex, regex.isEmpty { throw ValidationError("--regex needs a regular expression") }
        if let outputDir, outputDir.isEmpty { throw ValidationError("--output-dir needs a directory") }
    }

    /// The built-in tools the flags ask for, by their API names.
    var builtInTools: [BuiltInTool] {
        var tools: [BuiltInTool] = []
        if webSearch { tools.append(.webSearch) }
        if readUrls { tools.append(.readURLs) }
        if code { tools.append(.code) }
        if image { tools.append(.image) }
        return tools
    }

    /// --schema: the schema itself when the value is a JSON object, else the file it names.
    func loadSchema() throws -> JSONValue? {
        guard let schema else { return nil }
        return try Self.schema(from: schema, option: "--schema")
    }

    static func schema(from text: String, option: String) throws -> JSONValue {
        let value: JSONValue
        if text.trimmingCharacters(in: " \t\n\r").hasPrefix("{") {
            do {
                value = try JSONValue(parsing: text)
            } catch {
                throw ClientExit.usageError("\(option): the schema is not valid JSON: \(error.description)")
            }
        } else {
            do {
                value = try LocalFile.readJSON(text)
            } catch {
                throw ClientExit.usageError("\(option): \(error.message)")
            }
        }
        guard value.objectValue != nil else {
            throw ClientExit.usageError("\(option): a JSON Schema is an object, not \(value.typeName)")
        }
        return value
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
