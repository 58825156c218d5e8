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
    var api = ChatAPI.v2
    /// Built-in tools switched on (v2 only), in the order the flags name them.
    var tools: [BuiltInTool]
    var reasoning: ReasoningEffort?
    /// --schema: the reply must be JSON following it (v2 only).
    var schema: JSONValue?
    /// --regex: the reply must match it (v2 only).
    var regex: String?
    /// Where generated files go, absolute.
    var outputDirectory: String
    /// No reasoning and no tool progress on stderr.
    var quiet: Bool
    /// The turns of an unnamed chat being continued (--continue), sent before the new one.
    var history: [JSONValue] = []

    init(_ options: ChatOptions, functions: [JSONValue], schema: JSONValue?) {
        model = options.model
        system = options.system
        temperature = options.temperature
        maxTokens = options.maxTokens
        session = options.session
        conversation = options.conversation
        self.functions = functions
        stream = !options.noStream
        tools = options.builtInTools
        reasoning = options.reasoning
        self.schema = schema
        regex = options.regex
        outputDirectory = LocalFile.absolutePath(options.outputDir ?? ".")
        quiet = options.quiet
        api = options.api ?? .v2
    }

    /// The settings with the role, the last chat and the client's defaults filled in.
    static func resolve(_ options: ChatOptions) throws -> ChatSettings {
        var settings = ChatSettings(options, functions: try options.loadFunctions(), schema: try options.loadSchema())
        let config = try ClientConfig.loadOrFail()
        settings.api = options.api ?? config.api ?? .v2
        if settings.api == .v1, let flag = settings.v2OnlyFlag {
            throw ClientExit.usageError("\(flag) needs the v2 chat contract; leave out --api v1 (or GIGACHATCTL_API=v1)")
        }
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
                    settings.system = settings.system ?? MessageForm.text(of: first)
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

    /// A setting on that only the v2 contract has, named as its flag.
    var v2OnlyFlag: String? {
        if let tool = tools.first { return tool.flag }
        if schema != nil { return "--schema" }
        if regex != nil { return "--regex" }
        return nil
    }

    /// The method a turn is sent with.
    var method: String { api == .v1 ? RPCMethod.chat : RPCMethod.chatCreate }

    /// The params for `messages` (system prompt not included: callers place it), in the form of the
    /// contract the turn goes out with.
    func params(messages: [JSONValue]) -> JSONObject {
        var params: JSONObject
        switch api {
        case .v1:
            params = ["messages": .array(MessageForm.v1(messages)), "stream": .bool(stream)]
            if let model { params["model"] = .string(model) }
            if let temperature { params["temperature"] = .double(temperature) }
            if let maxTokens { params["max_tokens"] = .int(Int64(maxTokens)) }
            if let reasoning { params["reasoning_effort"] = .string(reasoning.rawValue) }
            if !functions.isEmpty {
                params["functions"] = .array(functions)
                params["function_call"] = "auto"
            }
        case .v2:
            params = ["messages": .array(MessageForm.v2(messages)), "stream": .bool(stream)]
            if let model { params["model"] = .string(model) }
            var options: JSONObject = [:]
            if let temperature { options["temperature"] = .double(temperature) }
            if let maxTokens { options["max_tokens"] = .int(Int64(maxTokens)) }
            if let reasoning { options["reasoning"] = ["effort": .string(reasoning.rawValue)] }
            if let schema {
                options["response_format"] = ["type": "json_schema", "schema": schema, "strict": true]
            } else if let regex {
                options["response_format"] = ["type": "regex", "regex": .string(regex)]
            }
            if !options.isEmpty { params["model_options"] = .object(options) }
            var toolList: [JSONValue] = []
            if !functions.isEmpty { toolList.append(["functions": ["specifications": .array(functions)]]) }
            toolList += tools.map(\.definition)
            if !toolList.isEmpty {
                params["tools"] = .array(toolList)
                params["tool_config"] = ["mode": "auto"]
            }
        }
        if let session { params["session_id"] = .string(session) }
        if let conversation { params["conversation"] = .string(conversation) }
        // Someone is watching this reply: gigachatd serves it before background work.
        if Output.stdoutIsTerminal { params["priority"] = "interactive" }
        return params
    }

    /// The system message to send, if any (v2's form; MessageForm converts it for v1).
    var systemMessage: JSONValue? {
        system.map { ["role": "system", "content": [["text": .string($0)]]] }
    }

    /// What `--continue` finds after a turn that ended well: the conversation's name, or the whole
    /// unnamed exchange so far.
    func lastChat(turns: [JSONValue]) -> LastChat {
        if let conversation { return .conversation(conversation) }
        return .messages((systemMessage.map { [$0] } ?? []) + turns, model: model)
    }
}
