import GigaChatProtocol

/// Messages in the form of the contract a turn is sent with.
///
/// A chat kept by gigachatctl (the REPL's history, --continue's last chat) may have been started with
/// either contract, and a turn may go out with the other: v1 writes `content` as a string (plus
/// `attachments`, `function_call`, role `function`), v2 as a list of parts (`text`, `files`,
/// `function_call`, `function_result`, role `tool`). Each converter leaves a message already in its
/// form as it is.
enum MessageForm {
    /// The messages for `chat.create`. A function call gigachatctl never answered (it runs no
    /// functions) is left out: the v2 API wants every call followed by its result.
    static func v2(_ messages: [JSONValue]) -> [JSONValue] {
        let converted = messages.map(v2)
        var sent: [JSONValue] = []
        for (index, message) in converted.enumerated() {
            guard var object = message.objectValue, object["role"]?.stringValue == "assistant",
                let parts = object["content"]?.arrayValue, parts.contains(where: { $0["function_call"] != nil })
            else {
                sent.append(message)
                continue
            }
            let answered = index + 1 < converted.count && converted[index + 1]["role"]?.stringValue == "tool"
            if answered {
                sent.append(message)
                continue
            }
            let kept = parts.filter { $0["function_call"] == nil }
            guard !kept.isEmpty else { continue }
            object["content"] = .array(kept)
            object["tools_state_id"] = nil
            sent.append(.object(object))
        }
        return sent
    }

    /// One message in v2's form.
    static func v2(_ message: JSONValue) -> JSONValue {
        guard var object = message.objectValue else { return message }
        if let state = object["tool_state_id"] {
            // Responses spell it without the s; requests with it.
            object["tool_state_id"] = nil
            object["tools_state_id"] = state
        }
        if object["content"]?.arrayValue != nil { return .object(object) }
        var parts: [JSONValue] = []
        let role = object["role"]?.stringValue
        let text = object["content"]?.stringValue ?? ""
        if role == "function" {
            let result = (try? JSONValue(parsing: text)) ?? .string(text)
            parts.append(["function_result": ["name": object["name"] ?? "", "result": result]])
            object["role"] = "tool"
            object["name"] = nil
        } else if !text.isEmpty || (object["function_call"] == nil && object["attachments"] == nil) {
            parts.append(["text": .string(text)])
        }
        if let ids = object["attachments"]?.arrayValue, !ids.isEmpty {
            parts.append(["files": .array(ids.map { ["id": $0] })])
        }
        if var call = object["function_call"]?.objectValue {
            // v1 may carry the arguments as a JSON string; v2 wants the object.
            if let arguments = call["arguments"]?.stringValue, let parsed = try? JSONValue(parsing: arguments) {
                call["arguments"] = parsed
            }
            parts.append(["function_call": .object(call)])
        }
        if let state = object["functions_state_id"] { object["tools_state_id"] = state }
        for key in ["attachments", "function_call", "functions_state_id"] { object[key] = nil }
        object["content"] = .array(parts)
        return .object(object)
    }

    /// The text of a message in either form.
    static func text(of message: JSONValue) -> String? {
        if let text = message["content"]?.stringValue { return text }
        guard let parts = message["content"]?.arrayValue else { return nil }
        return parts.compactMap { $0["text"]?.stringValue }.joined()
    }

    /// The messages for `chat` (v1). Reasoning messages are v2's alone and are left out.
    static func v1(_ messages: [JSONValue]) -> [JSONValue] {
        messages.compactMap(v1)
    }

    /// One message in v1's form; nil for one v1 has no place for.
    static func v1(_ message: JSONValue) -> JSONValue? {
        guard var object = message.objectValue else { return message }
        guard let parts = object["content"]?.arrayValue else { return message }
        let role = object["role"]?.stringValue
        if role == "reasoning" { return nil }
        var text = ""
        var attachments: [JSONValue] = []
        var call: JSONValue?
        var result: JSONValue?
        for part in parts {
            if let piece = part["text"]?.stringValue { text += piece }
            for file in part["files"]?.arrayValue ?? [] {
                if let id = file["id"] { attachments.append(id) }
            }
            // v1 has room for one call per message: the first.
            if call == nil, let found = part["function_call"] { call = found }
            if result == nil, let found = part["function_result"] { result = found }
        }
        if role == "tool", let result {
            object["role"] = "function"
            object["name"] = result["name"] ?? ""
            let value = result["result"] ?? .null
            text = value.stringValue ?? value.jsonText
        }
        object["content"] = .string(text)
        if !attachments.isEmpty { object["attachments"] = .array(attachments) }
        if let call { object["function_call"] = call }
        if let state = object["tools_state_id"] ?? object["tool_state_id"] { object["functions_state_id"] = state }
        object["tools_state_id"] = nil
        object["tool_state_id"] = nil
        return .object(object)
    }
}
