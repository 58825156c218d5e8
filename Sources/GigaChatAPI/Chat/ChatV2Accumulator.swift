import GigaChatProtocol

/// One event of a v2 stream as the daemon passes it on: the upstream event's name and payload unchanged,
/// with the answer text and the reasoning text it carries lifted out (never mixed).
public struct ChatV2Event: Sendable, Equatable {
    public var name: String
    public var data: JSONValue
    public var text: String?
    public var reasoningText: String?
}

/// Assembles the v2 non-stream response from the named events of a v2 stream.
///
/// Recorded shapes: `response.message.delta` carries `{"model","created_at","messages":[{"role","content":
/// [{"text"}]}]}` (no `delta` key); `response.message.done` carries `finish_reason` and `usage`, and the
/// message again only when the turn ends in calls — function calls never arrive in a delta, several may
/// sit in one message; `response.tool.*` report a running built-in tool; `error` carries
/// `{"status_code","message"}`. Reasoning models send a `role: "reasoning"` message before the answer.
public struct ChatV2Accumulator: Sendable {
    private struct Message: Sendable {
        var text = ""
        /// Fields of text parts other than `text` (web search's `inline_data` with its sources).
        var textFields = JSONObject()
        /// Every part that is not text (function calls, files), in arrival order.
        var parts: [JSONValue] = []
        /// Where among `parts` the joined text part goes: where its first piece arrived, as the
        /// non-stream answer orders them (an image's `files` part comes before its caption).
        var textPosition: Int?
        var toolStateID: JSONValue?
    }

    private var reasoning: Message?
    private var answer = Message()
    private var top = JSONObject()
    private var finishReason: String?
    public private(set) var sawDone = false
    public private(set) var chunkCount = 0

    public init() {}

    /// The event to pass on, after folding it into the result.
    public mutating func consume(_ event: SSEEvent) throws(APIError) -> ChatV2Event? {
        let name = event.name ?? "message"
        let data: JSONValue
        do {
            data = try JSONValue(parsing: event.data)
        } catch {
            throw APIError(.malformed, "the API sent a stream event that is not valid JSON (\(error.message))", partial: result)
        }
        guard case .object(let fields) = data else {
            throw APIError(.malformed, "the API sent a stream event that is not a JSON object", partial: result)
        }
        chunkCount += 1
        if name == "error" || name == "response.error" {
            let message = fields["message"]?.stringValue.map(ControlCharacters.oneLine) ?? "no message"
            let status = (fields["status_code"] ?? fields["status"])?.intValue.map { Int($0) }
            throw APIError(.truncated, "the API reported an error mid-stream: \(message)", status: status, partial: result)
        }
        for key in ["model", "created_at"] { if let value = fields[key] { top[key] = value } }
        let isTool = name.hasPrefix("response.tool.")
        var text = ""
        var reasoningText = ""
        if !isTool, let messages = fields["messages"]?.arrayValue {
            for message in messages {
                let isReasoning = message["role"]?.stringValue == "reasoning"
                var target = isReasoning ? (reasoning ?? Message()) : answer
                if let state = message["tool_state_id"] ?? message["tools_state_id"] { target.toolStateID = state }
                for part in message["content"]?.arrayValue ?? [] {
                    guard case .object(var partFields) = part else { continue }
                    if let piece = partFields["text"]?.stringValue {
                        // The done event may repeat a message whole; its text was already streamed.
                        if target.textPosition == nil { target.textPosition = target.parts.count }
                        if name != "response.message.done" || target.text.isEmpty {
                            target.text += piece
                            if isReasoning { reasoningText += piece } else { text += piece }
                        }
                        partFields["text"] = nil
                        for (key, value) in partFields { target.textFields[key] = Self.merged(target.textFields[key], value) }
                    } else {
                        target.parts.append(part)
                    }
                }
                if isReasoning { reasoning = target } else { answer = target }
            }
        }
        if name == "response.message.done" {
            sawDone = true
            finishReason = fields["finish_reason"]?.stringValue
            for (key, value) in fields where key != "messages" { top[key] = value }
        }
        return ChatV2Event(
            name: name,
            data: data,
            text: text.isEmpty ? nil : text,
            reasoningText: reasoningText.isEmpty ? nil : reasoningText
        )
    }

    /// Whether the stream ended as a finished turn; otherwise why not.
    public var failure: String? {
        if !sawDone { return "the reply ended without response.message.done: the stream was cut off and the text is partial" }
        if finishReason == "error" { return "the API ended the reply with finish_reason \"error\"; the text is partial" }
        return nil
    }

    /// The response in the v2 non-stream shape, as far as it got.
    public var result: JSONValue {
        var object = top
        var messages: [JSONValue] = []
        if let reasoning { messages.append(Self.render(reasoning, role: "reasoning")) }
        messages.append(Self.render(answer, role: "assistant"))
        object["messages"] = .array(messages)
        return .object(object)
    }

    private static func render(_ message: Message, role: String) -> JSONValue {
        var content = message.parts
        if !message.text.isEmpty || !message.textFields.isEmpty {
            var part: JSONObject = ["text": .string(message.text)]
            for (key, value) in message.textFields { part[key] = value }
            content.insert(.object(part), at: min(message.textPosition ?? 0, content.count))
        }
        var object: JSONObject = ["role": .string(role), "content": .array(content)]
        if let state = message.toolStateID { object["tool_state_id"] = state }
        return .object(object)
    }

    /// Objects (such as `inline_data.sources`) gather their members across events; anything else is replaced.
    private static func merged(_ old: JSONValue?, _ new: JSONValue) -> JSONValue {
        guard case .object(var base)? = old, case .object(let addition) = new else { return new }
        for (key, value) in addition { base[key] = merged(base[key], value) }
        return .object(base)
    }
}
