import GigaChatAPI
import GigaChatProtocol

/// Requests with tools go to GigaChat's v2 contract, because v1 makes at most one function call per reply
/// and v2 may make several in one message, which is what OpenAI's `tool_calls` list expresses.
///
/// The front end builds every request in v1's shape first (one translation of OpenAI's fields, one set
/// of refusals); this turns that body into v2's and v2's answer back into the v1 shape `ChatReply` reads,
/// with every call of the reply in `function_calls`.
enum ChatV2Bridge {
    /// v1 fields that v2 keeps under `model_options`.
    static let modelOptions = ["temperature", "top_p", "max_tokens", "repetition_penalty", "update_interval", "response_format"]

    /// A v1 chat body (images already attached) as a v2 body.
    static func body(_ v1: JSONObject) -> JSONObject {
        var out: JSONObject = [:]
        for key in ["model", "stream", "flags"] { if let value = v1[key] { out[key] = value } }
        if let check = v1["profanity_check"]?.boolValue { out["disable_filter"] = .bool(!check) }

        var options: JSONObject = [:]
        for key in modelOptions { if let value = v1[key] { options[key] = value } }
        if let effort = v1["reasoning_effort"] { options["reasoning"] = ["effort": effort] }
        if !options.isEmpty { out["model_options"] = .object(options) }

        if let functions = v1["functions"]?.arrayValue, !functions.isEmpty {
            out["tools"] = [["functions": ["specifications": .array(functions)]]]
            out["tool_config"] = toolConfig(v1["function_call"])
        }
        // The SDK's ranker settings keep their v1 field names; the v2 key is from the reference, unrecorded.
        if let ranker = v1["function_ranker"] { out["ranker_options"] = ranker }

        let neutral = (v1["messages"]?.arrayValue ?? []).map(MessageForms.neutral).compactMap(MessageForms.v2)
        out["messages"] = .array(grouped(neutral))
        return out
    }

    /// v1's `function_call` choice as v2's `tool_config`. Recorded modes are `auto` and `forced` with a
    /// name; `none` is unrecorded, taken from v1's word for it.
    static func toolConfig(_ choice: JSONValue?) -> JSONValue {
        switch choice {
        case .string("none")?: return ["mode": "none"]
        case .object(let named)?:
            if let name = named["name"] { return ["mode": "forced", "function_name": name] }
            return ["mode": "auto"]
        default: return ["mode": "auto"]
        }
    }

    /// Calls that one reply made together, back in one assistant message.
    ///
    /// The translated history holds each call as an assistant message followed by its result; calls whose
    /// ids carry the same state id were made in one reply, and v2 wants them back as they came: one
    /// assistant message with every call and the state id, then the results.
    static func grouped(_ messages: [JSONValue]) -> [JSONValue] {
        var out: [JSONValue] = []
        var index = 0
        while index < messages.count {
            let message = messages[index]
            guard message["role"]?.stringValue == "assistant", let state = message["tools_state_id"], !state.isNull,
                case .object(var merged) = message, var parts = merged["content"]?.arrayValue
            else {
                out.append(message)
                index += 1
                continue
            }
            var results: [JSONValue] = []
            var next = index + 1
            func takeResults() {
                while next < messages.count, messages[next]["role"]?.stringValue == "tool" {
                    results.append(messages[next])
                    next += 1
                }
            }
            takeResults()
            while next < messages.count, messages[next]["role"]?.stringValue == "assistant", messages[next]["tools_state_id"] == state,
                let more = messages[next]["content"]?.arrayValue, more.allSatisfy({ $0["function_call"] != nil })
            {
                parts += more
                next += 1
                takeResults()
            }
            merged["content"] = .array(parts)
            out.append(.object(merged))
            out += results
            index = next
        }
        return out
    }

    /// A v2 answer (non-stream shape) in the v1 shape: the assistant's text, its reasoning, every function
    /// call in `function_calls` with the state id, usage with v1's names.
    static func result(_ v2: JSONValue) -> JSONValue {
        var text = ""
        var reasoning = ""
        var calls: [JSONValue] = []
        var state: JSONValue?
        for message in v2["messages"]?.arrayValue ?? [] {
            let isReasoning = message["role"]?.stringValue == "reasoning"
            if !isReasoning, let value = message["tool_state_id"] ?? message["tools_state_id"] { state = value }
            for part in message["content"]?.arrayValue ?? [] {
                if let piece = part["text"]?.stringValue {
                    if isReasoning { reasoning += piece } else { text += piece }
                }
                if !isReasoning, let call = part["function_call"], call.objectValue != nil { calls.append(call) }
            }
        }
        var message: JSONObject = ["role": "assistant", "content": .string(text)]
        if !calls.isEmpty { message["function_calls"] = .array(calls) }
        if let state { message["functions_state_id"] = state }
        if !reasoning.isEmpty { message["reasoning_content"] = .string(reasoning) }
        var out: JSONObject = [
            "choices": [["index": 0, "message": .object(message), "finish_reason": v2["finish_reason"] ?? .null]]
        ]
        if let model = v2["model"] { out["model"] = model }
        if let created = v2["created_at"] { out["created"] = created }
        if let usage = v2["usage"]?.objectValue {
            let prompt = usage["input_tokens"]?.intValue ?? 0
            let completion = usage["output_tokens"]?.intValue ?? 0
            out["usage"] = [
                "prompt_tokens": .int(prompt),
                "completion_tokens": .int(completion),
                "total_tokens": .int(usage["total_tokens"]?.intValue ?? prompt &+ completion),
                "precached_prompt_tokens": .int(usage["input_tokens_details"]?["cached_tokens"]?.intValue ?? 0),
            ]
        }
        return .object(out)
    }
}
