import GigaChatProtocol

/// What a chat result says, whichever contract produced it: v1's `choices[0].message`, or v2's
/// `messages` of content parts (a reasoning message first, then the assistant's).
///
/// Both shapes are read whatever was asked for, so a client talking to an older or newer daemon
/// still shows the reply.
struct Reply {
    /// One numbered web search source.
    struct Source {
        let number: String
        let url: String
        let title: String?
    }

    /// A file the model made (an image of `image_generate`), to fetch with `files.content`.
    struct GeneratedFile {
        let id: String
        let mime: String?
    }

    /// Tokens as both contracts count them; nil members were not reported.
    struct TokenUsage {
        var input: Int64?
        var output: Int64?
        var cached: Int64?
    }

    var text = ""
    var reasoning = ""
    var functionCalls: [JSONValue] = []
    var files: [GeneratedFile] = []
    var sources: [Source] = []
    var finishReason: String?
    var usage: TokenUsage?
    /// v2's `tool_state_id` (v1's `functions_state_id`), which a later turn refers to.
    var stateID: String?

    init(_ result: JSONValue?) {
        guard let result else { return }
        if let choice = result["choices"]?[0] {
            readV1(choice)
        } else {
            readV2(result)
        }
        usage = Self.tokenUsage(result["usage"])
    }

    /// The answer of a v1 `choices[0]`.
    private mutating func readV1(_ choice: JSONValue) {
        let message = choice["message"]
        text = message?["content"]?.stringValue ?? ""
        reasoning = message?["reasoning_content"]?.stringValue ?? ""
        if let call = message?["function_call"], !call.isNull { functionCalls = [call] }
        stateID = message?["functions_state_id"]?.stringValue
        finishReason = choice["finish_reason"]?.stringValue
    }

    /// The answer of a v2 result: every assistant message's parts, the reasoning messages' text.
    private mutating func readV2(_ result: JSONValue) {
        finishReason = result["finish_reason"]?.stringValue
        for message in result["messages"]?.arrayValue ?? [] {
            let role = message["role"]?.stringValue
            let parts = message["content"]?.arrayValue ?? []
            if role == "reasoning" {
                reasoning += parts.compactMap { $0["text"]?.stringValue }.joined()
                continue
            }
            guard role == "assistant" else { continue }
            if let state = message["tool_state_id"]?.stringValue ?? message["tools_state_id"]?.stringValue { stateID = state }
            for part in parts {
                if let piece = part["text"]?.stringValue {
                    text += piece
                    sources += Self.sources(part["inline_data"]?["sources"])
                }
                if let call = part["function_call"], !call.isNull { functionCalls.append(call) }
                for file in part["files"]?.arrayValue ?? [] {
                    if let id = file["id"]?.stringValue { files.append(GeneratedFile(id: id, mime: file["mime"]?.stringValue)) }
                }
            }
        }
    }

    /// `{"1":{"url","title"},...}` in the order of their numbers.
    private static func sources(_ value: JSONValue?) -> [Source] {
        guard let object = value?.objectValue else { return [] }
        let found: [Source] = object.compactMap { key, entry in
            guard let url = entry["url"]?.stringValue else { return nil }
            return Source(number: key, url: url, title: entry["title"]?.stringValue)
        }
        return found.sorted { (Int($0.number) ?? Int.max, $0.number) < (Int($1.number) ?? Int.max, $1.number) }
    }

    /// v1: prompt_tokens, completion_tokens, precached_prompt_tokens; v2: input_tokens, output_tokens,
    /// input_tokens_details.cached_tokens.
    static func tokenUsage(_ usage: JSONValue?) -> TokenUsage? {
        guard let usage, usage.objectValue != nil else { return nil }
        let input = usage["input_tokens"]?.intValue ?? usage["prompt_tokens"]?.intValue
        let output = usage["output_tokens"]?.intValue ?? usage["completion_tokens"]?.intValue
        let cached = usage["input_tokens_details"]?["cached_tokens"]?.intValue ?? usage["precached_prompt_tokens"]?.intValue
        guard input != nil || output != nil else { return nil }
        return TokenUsage(input: input, output: output, cached: cached)
    }

    /// The reply as the next turn's history holds it, in v2's form (MessageForm converts it for v1).
    /// Sources are left out: they were shown, and the model does not need them back.
    var historyMessage: JSONValue {
        var parts: [JSONValue] = []
        if !text.isEmpty { parts.append(["text": .string(text)]) }
        if !files.isEmpty {
            parts.append(["files": .array(files.map { file in ["id": .string(file.id)] })])
        }
        parts += functionCalls.map { ["function_call": $0] }
        var message: JSONObject = ["role": "assistant", "content": .array(parts)]
        if let stateID { message["tools_state_id"] = .string(stateID) }
        return .object(message)
    }
}
