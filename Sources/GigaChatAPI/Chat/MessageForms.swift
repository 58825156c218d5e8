import GigaChatProtocol

/// Chat messages in the two contracts, and the one neutral form conversations are stored in, so a thread
/// started with `chat` (v1) can go on with `chat.create` (v2) and back.
///
/// The neutral form is v2's: `content` is a list of parts (`text`, `function_call`, `function_result`,
/// `files`), the state of a tool round trip is `tools_state_id`. v1 keeps text in a `content` string, one
/// `function_call` beside it with `functions_state_id`, function results as `role: "function"` messages
/// whose content is the result as JSON text, and file ids in `attachments`.
public enum MessageForms {
    /// Any stored or v1 or v2 message, in the neutral form.
    public static func neutral(_ message: JSONValue) -> JSONValue {
        guard case .object(let fields) = message else { return message }
        var output = fields
        var parts: [JSONValue] = []
        switch fields["content"] {
        case .array(let list)?:
            parts = list
        case .string(let text)?:
            if fields["role"]?.stringValue == "function" {
                // A v1 function result: its content is the result as JSON text.
                let result = (try? JSONValue(parsing: text)) ?? .string(text)
                var call: JSONObject = ["result": result]
                if let name = fields["name"] { call["name"] = name }
                parts.append(["function_result": .object(call)])
                output["role"] = "tool"
                output["name"] = nil
            } else if !text.isEmpty {
                parts.append(["text": .string(text)])
            }
        default:
            break
        }
        if let call = fields["function_call"], !call.isNull {
            parts.append(["function_call": call])
            output["function_call"] = nil
        }
        if let attachments = fields["attachments"]?.arrayValue, !attachments.isEmpty {
            parts.append(["files": .array(attachments.map { id in ["id": id] })])
            output["attachments"] = nil
        }
        if let state = fields["functions_state_id"] ?? fields["tool_state_id"] {
            output["tools_state_id"] = state
        }
        output["functions_state_id"] = nil
        output["tool_state_id"] = nil
        output["content"] = .array(parts)
        return .object(output)
    }

    /// A neutral message as v1 expects it; nil for messages v1 has no place for (reasoning).
    public static func v1(_ message: JSONValue) -> JSONValue? {
        guard case .object(let fields) = message else { return message }
        guard fields["role"]?.stringValue != "reasoning" else { return nil }
        guard case .array(let parts)? = fields["content"] else { return message }
        var output = fields
        var text = ""
        var attachments: [JSONValue] = []
        for part in parts {
            if let piece = part["text"]?.stringValue { text += piece }
            if let call = part["function_call"], output["function_call"] == nil { output["function_call"] = call }
            if let result = part["function_result"] {
                output["role"] = "function"
                if let name = result["name"] { output["name"] = name }
                text = (result["result"] ?? .null).jsonText
            }
            for file in part["files"]?.arrayValue ?? [] { if let id = file["id"] { attachments.append(id) } }
        }
        output["content"] = .string(text)
        if !attachments.isEmpty { output["attachments"] = .array(attachments) }
        if let state = fields["tools_state_id"] { output["functions_state_id"] = state }
        output["tools_state_id"] = nil
        return .object(output)
    }

    /// A neutral message as v2 expects it in a request; nil for reasoning, which is not sent back.
    public static func v2(_ message: JSONValue) -> JSONValue? {
        guard message["role"]?.stringValue != "reasoning" else { return nil }
        return message
    }

    /// The reply messages of a result, neutral, ready to store.
    public static func replies(in result: JSONValue, contract: ChatContract) -> [JSONValue] {
        switch contract {
        case .v1:
            guard let reply = result["choices"]?[0]?["message"]?.objectValue else { return [] }
            var stored: JSONObject = ["role": reply["role"] ?? "assistant", "content": reply["content"] ?? ""]
            for key in ["function_call", "functions_state_id"] { if let value = reply[key] { stored[key] = value } }
            return [neutral(.object(stored))]
        case .v2:
            return (result["messages"]?.arrayValue ?? []).filter { $0["role"]?.stringValue != "reasoning" }.map(neutral)
        }
    }
}

/// The two chat contracts of the API.
public enum ChatContract: Sendable {
    /// `POST /chat/completions`: `content` strings, one function call, `chat.delta` notifications.
    case v1
    /// `POST /v2/chat/completions`: content parts, built-in tools, named events (`chat.event`).
    case v2
}
