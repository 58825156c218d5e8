import GigaChatProtocol

/// The settings of one conversation turn (the REPL changes model and system prompt as it goes).
struct ChatSettings {
    var model: String?
    var system: String?
    var temperature: Double?
    var maxTokens: Int?
    var session: String?
    var conversation: String?
    var functions: [JSONValue]
    var stream: Bool

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
}
