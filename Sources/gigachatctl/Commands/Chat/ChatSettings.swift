import GigaChatProtocol

/// The settings of one conversation turn (the REPL changes model and system prompt as it goes).
///
/// Each comes from the first of: the command line, the role (--role or $GIGACHATCTL_ROLE), the chat
/// being continued (--continue), gigachatctl's own defaults ($GIGACHATCTL_MODEL, gigachatctl.conf),
/// and finally gigachatd's defaults (nothing sent).
struct ChatSettings {
    var model: String?
    var system: String?
    var temperature: Double?
    var maxTokens: Int?
    var session: String?
    var conversation: String?
    var functions: [JSONValue]
    var stream: Bool
    /// The turns of an unnamed chat being continued (--continue), sent before the new one.
    var history: [JSONValue] = []

    init(_ options: ChatOptions, functions: [JSONValue]) {
        model = options.model
        system = options.system
        temperature = options.temperature
        maxTokens = options.maxTokens
        session = options.session
        conversation = options.conversation
        self.functions = functions
        stream = !options.noStream
    }

    /// The settings with the role, the last chat and the client's defaults filled in.
    static func resolve(_ options: ChatOptions, functions: [JSONValue]) throws -> ChatSettings {
        var settings = ChatSettings(options, functions: functions)
        let config = try ClientConfig.loadOrFail()
        if let name = options.role ?? config.role {
            let role: Role
            do {
                role = try Role.load(name)
            } catch {
                throw ClientExit.usageError(error.message)
            }
            settings.model = settings.model ?? role.model
            settings.system = settings.system ?? role.prompt
            settings.temperature = settings.temperature ?? role.temperature
            settings.maxTokens = settings.maxTokens ?? role.maxTokens
        }
        if options.continueLast {
            let last: LastChat?
            do {
                last = try LastChat.load()
            } catch {
                throw ClientExit.usageError("--continue: \(error.message)")
            }
            switch last {
            case .conversation(let name):
                settings.conversation = name
            case .messages(let messages, let model):
                var turns = messages[...]
                if let first = turns.first, first["role"]?.stringValue == "system" {
                    settings.system = settings.system ?? first["content"]?.stringValue
                    turns = turns.dropFirst()
                }
                settings.history = Array(turns)
                settings.model = settings.model ?? model
            case nil:
                Output.notice("no earlier chat to continue; this one starts afresh")
            }
        }
        settings.model = settings.model ?? config.model
        return settings
    }

    /// The `chat` params for `messages` (system prompt not included: callers place it).
    func params(messages: [JSONValue]) -> JSONObject {
        var params: JSONObject = ["messages": .array(messages), "stream": .bool(stream)]
        if let model { params["model"] = .string(model) }
        if let temperature { params["temperature"] = .double(temperature) }
        if let maxTokens { params["max_tokens"] = .int(Int64(maxTokens)) }
        if let session { params["session_id"] = .string(session) }
        if let conversation { params["conversation"] = .string(conversation) }
        if !functions.isEmpty {
            params["functions"] = .array(functions)
            params["function_call"] = "auto"
        }
        return params
    }

    /// The system message to send, if any.
    var systemMessage: JSONValue? {
        system.map { ["role": "system", "content": .string($0)] }
    }

    /// What `--continue` finds after a turn that ended well: the conversation's name, or the whole
    /// unnamed exchange so far.
    func lastChat(turns: [JSONValue]) -> LastChat {
        if let conversation { return .conversation(conversation) }
        return .messages((systemMessage.map { [$0] } ?? []) + turns, model: model)
    }
}
