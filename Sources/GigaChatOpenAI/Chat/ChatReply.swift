import GigaChatProtocol

/// GigaChat replies (v1, or v2 through `ChatV2Bridge`) → OpenAI `chat.completion` objects and `chat.completion.chunk` events.
struct ChatReply: Sendable {
    let id: String
    let created: Int64
    /// The model named in chunks (a stream learns GigaChat's resolved name only at its end).
    let model: String
    let legacyFunctions: Bool

    init(model: String, legacyFunctions: Bool, created: Int64) {
        id = "chatcmpl-" + RandomID.make(count: 29)
        self.created = created
        self.model = model
        self.legacyFunctions = legacyFunctions
    }

    /// finish_reason in OpenAI's vocabulary. `blacklist` (GigaChat's content filter refused) is OpenAI's
    /// `content_filter`; `error` (the model produced unusable arguments) has no OpenAI word and ends as `stop`.
    func finishReason(_ reason: String?) -> JSONValue {
        switch reason {
        case nil: return .null
        case "stop"?: return "stop"
        case "length"?: return "length"
        case "function_call"?: return legacyFunctions ? "function_call" : "tool_calls"
        case "blacklist"?: return "content_filter"
        default: return "stop"
        }
    }

    /// A function call in OpenAI's shape: arguments as JSON text (GigaChat sends an object).
    static func arguments(_ value: JSONValue?) -> String {
        switch value {
        case .string(let text)?: return text
        case nil, .null?: return "{}"
        case let other?: return other.jsonText
        }
    }

    /// The reply's function calls: v1's one `function_call`, or every call of a v2 reply (`function_calls`).
    static func calls(in message: JSONValue) -> [JSONValue] {
        if let list = message["function_calls"]?.arrayValue { return list }
        if let call = message["function_call"], !call.isNull { return [call] }
        return []
    }

    /// The calls as OpenAI's `tool_calls`, each with an id that carries the state id back.
    func toolCalls(_ calls: [JSONValue], stateID: String?, streaming: Bool) -> [JSONValue] {
        calls.enumerated().map { index, call in
            var entry: JSONObject = [
                "id": .string(ToolCallID.make(stateID: stateID, index: index)),
                "type": "function",
                "function": ["name": call["name"] ?? "", "arguments": .string(Self.arguments(call["arguments"]))],
            ]
            if streaming { entry["index"] = .int(Int64(index)) }
            return .object(entry)
        }
    }

    /// OpenAI usage from GigaChat's; cached prompt tokens (GigaChat: precached_prompt_tokens) as
    /// prompt_tokens_details.cached_tokens.
    static func usage(_ usage: JSONValue?) -> JSONValue? {
        guard let usage = usage?.objectValue else { return nil }
        let prompt = usage["prompt_tokens"]?.intValue ?? 0
        let completion = usage["completion_tokens"]?.intValue ?? 0
        let total = usage["total_tokens"]?.intValue ?? prompt &+ completion
        return [
            "prompt_tokens": .int(prompt),
            "completion_tokens": .int(completion),
            "total_tokens": .int(total),
            "prompt_tokens_details": ["cached_tokens": .int(usage["precached_prompt_tokens"]?.intValue ?? 0)],
            "completion_tokens_details": ["reasoning_tokens": 0],
        ]
    }

    /// The whole reply, non-stream. `stop` cuts the text at the first stop sequence.
    func completion(_ result: JSONValue, stop: [String]) -> JSONValue {
        var choices: [JSONValue] = []
        for choice in result["choices"]?.arrayValue ?? [] {
            let message = choice["message"] ?? .object([:])
            var content = message["content"]?.stringValue ?? ""
            var reason = finishReason(choice["finish_reason"]?.stringValue)
            if let cut = StopFilter.cut(content, at: stop) {
                content = cut
                reason = "stop"
            }
            var out: JSONObject = ["role": "assistant"]
            let calls = Self.calls(in: message)
            if let call = calls.first {
                out["content"] = content.isEmpty ? .null : .string(content)
                if legacyFunctions {
                    out["function_call"] = ["name": call["name"] ?? "", "arguments": .string(Self.arguments(call["arguments"]))]
                } else {
                    out["tool_calls"] = .array(toolCalls(calls, stateID: message["functions_state_id"]?.stringValue, streaming: false))
                }
            } else {
                out["content"] = .string(content)
            }
            out["refusal"] = .null
            if let reasoning = message["reasoning_content"]?.stringValue, !reasoning.isEmpty {
                out["reasoning_content"] = .string(reasoning)
            }
            choices.append([
                "index": choice["index"] ?? 0,
                "message": .object(out),
                "finish_reason": reason,
                "logprobs": .null,
            ])
        }
        var completion: JSONObject = [
            "id": .string(id),
            "object": "chat.completion",
            "created": result["created"]?.intValue.map(JSONValue.int) ?? .int(created),
            "model": result["model"] ?? .string(model),
            "choices": .array(choices),
            "system_fingerprint": .null,
        ]
        if let usage = Self.usage(result["usage"]) { completion["usage"] = usage }
        return .object(completion)
    }

    /// One chunk with one choice's delta.
    func chunk(delta: JSONObject, finishReason reason: JSONValue = .null) -> JSONValue {
        [
            "id": .string(id),
            "object": "chat.completion.chunk",
            "created": .int(created),
            "model": .string(model),
            "system_fingerprint": .null,
            "choices": [["index": 0, "delta": .object(delta), "finish_reason": reason, "logprobs": .null]],
        ]
    }

    /// The chunk stream_options.include_usage asks for: no choices, only the usage.
    func usageChunk(_ usage: JSONValue) -> JSONValue {
        [
            "id": .string(id),
            "object": "chat.completion.chunk",
            "created": .int(created),
            "model": .string(model),
            "system_fingerprint": .null,
            "choices": [],
            "usage": usage,
        ]
    }
}

/// Stop sequences, which GigaChat v1 does not have: the daemon ends the reply where one begins.
enum StopFilter {
    /// `text` cut before the first stop sequence, or nil when none occurs.
    static func cut(_ text: String, at stops: [String]) -> String? {
        var earliest: String.Index?
        for stop in stops where !stop.isEmpty {
            if let range = text.range(of: stop), earliest.map({ range.lowerBound < $0 }) ?? true {
                earliest = range.lowerBound
            }
        }
        return earliest.map { String(text[..<$0]) }
    }

    /// How many characters at the end of streamed text must be held back: they could be the start of a
    /// stop sequence that the next delta completes.
    static func holdBack(_ text: String, stops: [String]) -> Int {
        var longest = 0
        for stop in stops where stop.count > 1 {
            let maximum = min(stop.count - 1, text.count)
            guard maximum > longest else { continue }
            for length in stride(from: maximum, to: longest, by: -1) where stop.hasPrefix(text.suffix(length)) {
                longest = length
                break
            }
        }
        return longest
    }
}
