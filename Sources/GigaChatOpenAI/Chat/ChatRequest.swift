import Foundation
import GigaChatAPI
import GigaChatProtocol

/// An OpenAI chat.completions request turned into a GigaChat v1 `/chat/completions` body, plus what the
/// reply translation needs to know about the request.
///
/// Everything OpenAI has that GigaChat v1 cannot do is refused with a 400 naming the parameter, rather than
/// dropped: a caller must never get an answer to a different question than the one it asked. What is
/// accepted and ignored is listed in docs/OPENAI.md.
struct ChatRequest: Sendable {
    /// The GigaChat body, without image attachments (those are uploaded first, see `images`).
    var body: JSONObject
    var stream: Bool
    /// stream_options.include_usage: one more chunk with the usage before [DONE].
    var includeUsage = false
    /// Stop sequences, applied by the daemon (GigaChat v1 has none).
    var stop: [String] = []
    /// The caller used the legacy `functions` parameter and expects `function_call` back, not `tool_calls`.
    var legacyFunctions = false
    /// Images to upload and attach: the message index in `body.messages` and the decoded bytes.
    var images: [InlineImage] = []
    /// prompt_cache_key (or an X-Session-ID header), sent as X-Session-ID for GigaChat's prompt cache.
    var sessionID: String?
    /// The model name the caller sent, before aliasing.
    var requestedModel: String?
    /// The GigaChat contract the request goes to: v2 when tools are in play (several calls per reply).
    var contract: ChatContract = .v1

    struct InlineImage: Sendable {
        var messageIndex: Int
        var data: [UInt8]
        var mimeType: String
    }

    /// Parameters GigaChat has and OpenAI does not; passed through when a caller sends them (extra_body).
    static let gigaChatExtras = ["repetition_penalty", "update_interval", "profanity_check", "flags", "reasoning_effort", "function_ranker"]

    init(_ request: JSONObject, aliases: [String: String], sessionHeader: String?) throws(OpenAIError) {
        let fields = Fields(request)
        body = [:]
        if let model = try fields.string("model") {
            requestedModel = model
            body["model"] = .string(aliases[model] ?? model)
        }
        stream = try fields.bool("stream") ?? false
        if stream, let options = try fields.object("stream_options") {
            includeUsage = try Fields(options, prefix: "stream_options.").bool("include_usage") ?? false
        }

        // Sampling and length.
        if let value = try fields.number("temperature") {
            guard (0...2).contains(value) else { throw .invalid("temperature must be from 0 to 2", param: "temperature") }
            body["temperature"] = request["temperature"]
        }
        if let value = try fields.number("top_p") {
            guard (0...1).contains(value) else { throw .invalid("top_p must be from 0 to 1", param: "top_p") }
            body["top_p"] = request["top_p"]
        }
        for key in ["max_completion_tokens", "max_tokens"] {
            guard let value = try fields.integer(key) else { continue }
            guard value >= 1 else { throw .invalid("\(key) must be at least 1", param: key) }
            if body["max_tokens"] == nil { body["max_tokens"] = .int(value) }
        }
        if let count = try fields.integer("n"), count != 1 {
            throw .unsupported("n=\(count): GigaChat returns one choice per request; send n=1 (or omit it) and repeat the request", param: "n")
        }
        switch request["stop"] {
        case nil, .null?:
            break
        case .string(let single)?:
            stop = single.isEmpty ? [] : [single]
        case .array(let items)?:
            for item in items {
                guard let text = item.stringValue else { throw .invalid("stop must be a string or a list of strings", param: "stop") }
                if !text.isEmpty { stop.append(text) }
            }
            guard stop.count <= 4 else { throw .invalid("stop may hold at most 4 sequences", param: "stop") }
        case .some:
            throw .invalid("stop must be a string or a list of strings", param: "stop")
        }

        // Things GigaChat v1 cannot do: refused, never ignored.
        for key in ["frequency_penalty", "presence_penalty"] {
            if let value = try fields.number(key), value != 0 {
                throw .unsupported("\(key) is not supported by GigaChat; GigaChat's own repetition_penalty can be sent instead", param: key)
            }
        }
        if try fields.bool("logprobs") == true {
            throw .unsupported("logprobs are not available from GigaChat's v1 chat API", param: "logprobs")
        }
        if let value = try fields.integer("top_logprobs"), value != 0 {
            throw .unsupported("top_logprobs are not available from GigaChat's v1 chat API", param: "top_logprobs")
        }
        if let bias = request["logit_bias"], !bias.isNull, bias.objectValue?.isEmpty != true {
            throw .unsupported("logit_bias is not supported by GigaChat", param: "logit_bias")
        }
        if let modalities = request["modalities"]?.arrayValue, modalities.contains(where: { $0 != "text" }) {
            throw .unsupported("only text output is supported", param: "modalities")
        }
        for key in ["audio", "prediction", "web_search_options"] where !(request[key]?.isNull ?? true) {
            throw .unsupported("\(key) is not supported by GigaChat's v1 chat API", param: key)
        }

        if let format = try fields.object("response_format") {
            body["response_format"] = try Self.responseFormat(format)
        }
        for key in Self.gigaChatExtras where request[key] != nil && !(request[key]?.isNull ?? true) {
            body[key] = request[key]
        }
        if let key = try fields.string("prompt_cache_key"), !key.isEmpty {
            sessionID = key
        } else if let sessionHeader, !sessionHeader.isEmpty {
            sessionID = sessionHeader
        }
        if let sessionID, sessionID.unicodeScalars.contains(where: ControlCharacters.isControl) {
            throw .invalid("prompt_cache_key must not contain control characters", param: "prompt_cache_key")
        }

        // Tools (or the legacy functions) and the messages that use them.
        let tools = try fields.array("tools")
        let legacy = try fields.array("functions")
        if tools != nil, legacy != nil {
            throw .invalid("send either tools or the legacy functions, not both", param: "functions")
        }
        if let tools, !tools.isEmpty {
            let functions = try Self.functions(fromTools: tools)
            body["functions"] = .array(functions)
            body["function_call"] = try Self.functionCall(toolChoice: request["tool_choice"], functions: functions)
        } else if let legacy, !legacy.isEmpty {
            legacyFunctions = true
            let functions = try Self.functions(legacy, param: "functions")
            body["functions"] = .array(functions)
            body["function_call"] = try Self.functionCall(legacy: request["function_call"], functions: functions)
        } else if let choice = request["tool_choice"], !choice.isNull, choice != "none", choice != "auto" {
            throw .invalid("tool_choice needs tools", param: "tool_choice")
        }

        guard let messages = try fields.array("messages"), !messages.isEmpty else {
            throw .invalid("messages is required: a non-empty list of {\"role\", \"content\"} objects", param: "messages")
        }
        if !legacyFunctions, body["functions"] != nil || messages.contains(where: { $0["tool_calls"]?.arrayValue?.isEmpty == false || $0["role"] == "tool" }) {
            contract = .v2
        }
        let translated = try MessageTranslator.translate(messages)
        images = translated.images
        body["messages"] = .array(translated.messages)
        body["stream"] = .bool(stream)
    }

    static func responseFormat(_ format: JSONObject) throws(OpenAIError) -> JSONValue {
        switch format["type"]?.stringValue {
        case "text"?:
            return ["type": "text"]
        case "json_object"?:
            // GigaChat has no free-form JSON mode; a schema that allows any object asks for the same.
            return ["type": "json_schema", "schema": ["type": "object"]]
        case "json_schema"?:
            guard let spec = format["json_schema"]?.objectValue, let schema = spec["schema"], schema.objectValue != nil else {
                throw .invalid("response_format.json_schema.schema must be a JSON Schema object", param: "response_format")
            }
            var out: JSONObject = ["type": "json_schema", "schema": schema]
            if let strict = spec["strict"]?.boolValue { out["strict"] = .bool(strict) }
            return .object(out)
        default:
            throw .invalid("response_format.type must be text, json_object or json_schema", param: "response_format")
        }
    }

    /// OpenAI tools → GigaChat functions (function tools only).
    static func functions(fromTools tools: [JSONValue]) throws(OpenAIError) -> [JSONValue] {
        var specs: [JSONValue] = []
        for (index, tool) in tools.enumerated() {
            guard let object = tool.objectValue else { throw .invalid("tools[\(index)] must be an object", param: "tools") }
            let type = object["type"]?.stringValue ?? "function"
            guard type == "function", let function = object["function"] else {
                throw .unsupported("tools[\(index)] has type \(type); only function tools are supported", param: "tools")
            }
            specs.append(function)
        }
        return try functions(specs, param: "tools")
    }

    static func functions(_ specs: [JSONValue], param: String) throws(OpenAIError) -> [JSONValue] {
        var out: [JSONValue] = []
        var names = Set<String>()
        for (index, spec) in specs.enumerated() {
            guard let object = spec.objectValue, let name = object["name"]?.stringValue, !name.isEmpty else {
                throw .invalid("\(param)[\(index)] needs a function name", param: param)
            }
            guard names.insert(name).inserted else { throw .invalid("\(param) names the function \(name) twice", param: param) }
            var function: JSONObject = ["name": .string(name)]
            if let description = object["description"]?.stringValue { function["description"] = .string(description) }
            // GigaChat wants parameters on every function; a function without arguments gets an empty schema.
            if let parameters = object["parameters"], parameters.objectValue != nil {
                function["parameters"] = parameters
            } else {
                function["parameters"] = ["type": "object", "properties": [:]]
            }
            for key in ["few_shot_examples", "return_parameters"] where object[key] != nil {
                function[key] = object[key]
            }
            out.append(.object(function))
        }
        return out
    }

    /// tool_choice → GigaChat function_call. OpenAI's default with tools is "auto"; GigaChat's is "none",
    /// so it is always sent.
    static func functionCall(toolChoice: JSONValue?, functions: [JSONValue]) throws(OpenAIError) -> JSONValue {
        switch toolChoice {
        case nil, .null?, .string("auto")?:
            return "auto"
        case .string("none")?:
            return "none"
        case .string("required")?:
            // GigaChat can force one named function, not "any of them".
            guard functions.count == 1, let name = functions[0]["name"] else {
                throw .unsupported(
                    "tool_choice \"required\" works with exactly one tool: GigaChat can force a named function but not \"any\" of several; "
                        + "name the function in tool_choice",
                    param: "tool_choice"
                )
            }
            return ["name": name]
        case .object(let object)?:
            guard object["type"]?.stringValue == "function", let name = object["function"]?["name"]?.stringValue else {
                throw .unsupported("tool_choice must be auto, none, required or {\"type\":\"function\",\"function\":{\"name\"}}", param: "tool_choice")
            }
            return try named(name, functions: functions, param: "tool_choice")
        default:
            throw .invalid("tool_choice must be auto, none, required or a named function", param: "tool_choice")
        }
    }

    static func functionCall(legacy: JSONValue?, functions: [JSONValue]) throws(OpenAIError) -> JSONValue {
        switch legacy {
        case nil, .null?, .string("auto")?:
            return "auto"
        case .string("none")?:
            return "none"
        case .object(let object)?:
            guard let name = object["name"]?.stringValue else { throw .invalid("function_call needs a name", param: "function_call") }
            return try named(name, functions: functions, param: "function_call")
        default:
            throw .invalid("function_call must be auto, none or {\"name\"}", param: "function_call")
        }
    }

    private static func named(_ name: String, functions: [JSONValue], param: String) throws(OpenAIError) -> JSONValue {
        guard functions.contains(where: { $0["name"]?.stringValue == name }) else {
            throw .invalid("\(param) names \(name), which is not among the functions given", param: param)
        }
        return ["name": .string(name)]
    }
}

/// Typed reads of request fields; a wrong type is a 400 naming the field.
struct Fields {
    let object: JSONObject
    let prefix: String

    init(_ object: JSONObject, prefix: String = "") {
        self.object = object
        self.prefix = prefix
    }

    private func present(_ key: String) -> JSONValue? {
        guard let value = object[key], !value.isNull else { return nil }
        return value
    }

    private func wrong(_ key: String, _ expected: String, _ value: JSONValue) -> OpenAIError {
        .invalid("\(prefix)\(key) must be \(expected), got \(value.typeName)", param: prefix + key)
    }

    func string(_ key: String) throws(OpenAIError) -> String? {
        guard let value = present(key) else { return nil }
        guard let string = value.stringValue else { throw wrong(key, "a string", value) }
        return string
    }

    func bool(_ key: String) throws(OpenAIError) -> Bool? {
        guard let value = present(key) else { return nil }
        guard let bool = value.boolValue else { throw wrong(key, "true or false", value) }
        return bool
    }

    func number(_ key: String) throws(OpenAIError) -> Double? {
        guard let value = present(key) else { return nil }
        guard let number = value.doubleValue else { throw wrong(key, "a number", value) }
        return number
    }

    func integer(_ key: String) throws(OpenAIError) -> Int64? {
        guard let value = present(key) else { return nil }
        guard let number = value.intValue else { throw wrong(key, "an integer", value) }
        return number
    }

    func array(_ key: String) throws(OpenAIError) -> [JSONValue]? {
        guard let value = present(key) else { return nil }
        guard let array = value.arrayValue else { throw wrong(key, "a list", value) }
        return array
    }

    func object(_ key: String) throws(OpenAIError) -> JSONObject? {
        guard let value = present(key) else { return nil }
        guard let object = value.objectValue else { throw wrong(key, "an object", value) }
        return object
    }
}
