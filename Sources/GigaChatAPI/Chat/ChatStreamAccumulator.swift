import GigaChatProtocol

/// One streamed piece of a chat reply, as the daemon forwards it.
public struct ChatDelta: Sendable, Equatable {
    public var index: Int
    public var content: String
    public var role: String?
    public var functionCall: JSONValue?
    public var reasoningContent: String?
    public var finishReason: String?

    /// Whether there is anything worth sending to the client.
    public var isEmpty: Bool {
        content.isEmpty && functionCall == nil && (reasoningContent ?? "").isEmpty && finishReason == nil
    }
}

/// Folds a v1 chat stream's chunks into GigaChat's non-stream response shape, so a streaming client ends
/// with exactly what a non-streaming one gets (choices[].message.content is the whole text).
public struct ChatStreamAccumulator: Sendable {
    private struct Choice: Sendable {
        var role = "assistant"
        var content = ""
        var reasoning = ""
        var functionCall: JSONValue?
        var functionsStateID: JSONValue?
        var finishReason: String?
    }

    /// Few (usually one), so a list beats a dictionary; kept in arrival order.
    private var choices: [(index: Int, choice: Choice)] = []
    private var model: JSONValue?
    private var created: JSONValue?
    private var object: JSONValue?
    private var usage: JSONValue?
    public private(set) var sawDone = false
    public private(set) var chunkCount = 0
    /// The last chunk the scanner read, whose repeating strings the next one may reuse.
    private var lastScanned: ChatChunkScanner.Chunk?

    public init() {}

    /// Takes one SSE event; returns the deltas it carries (empty for [DONE] or a chunk with nothing new).
    public mutating func consume(_ event: SSEEvent) throws(APIError) -> [ChatDelta] {
        if event.isDone {
            sawDone = true
            return []
        }
        if let common = ChatChunkScanner.scan(event.data, previous: lastScanned) {
            lastScanned = common
            return fold(common)
        }
        let chunk: JSONValue
        do {
            chunk = try JSONValue(parsing: event.data)
        } catch {
            throw APIError(.malformed, "the API sent a stream chunk that is not valid JSON (\(error.message))", partial: result)
        }
        guard case .object(let fields) = chunk else {
            throw APIError(.malformed, "the API sent a stream chunk that is not a JSON object", partial: result)
        }
        chunkCount += 1
        if let value = fields["model"] { model = value }
        if let value = fields["created"] { created = value }
        if let value = fields["object"] { object = value }
        if let value = fields["usage"], !value.isNull { usage = value }
        guard let list = fields["choices"]?.arrayValue else {
            if fields["message"] != nil || fields["status"] != nil {
                let message = fields["message"]?.stringValue ?? "unknown error"
                throw APIError(
                    .http, "the API reported an error in the stream: \(message)", status: fields["status"]?.intValue.map { Int($0) }, partial: result)
            }
            return []
        }
        var deltas: [ChatDelta] = []
        for entry in list {
            let index = entry["index"]?.intValue.map { Int($0) } ?? 0
            let delta = entry["delta"] ?? entry["message"] ?? .object([:])
            var piece = ChatDelta(index: index, content: "")
            // Mutated in place: a copy of the choice would make every append copy the whole reply so far.
            update(index) { choice in
                if let role = delta["role"]?.stringValue {
                    choice.role = role
                    piece.role = role
                }
                if let content = delta["content"]?.stringValue {
                    choice.content += content
                    piece.content = content
                }
                if let reasoning = delta["reasoning_content"]?.stringValue {
                    choice.reasoning += reasoning
                    piece.reasoningContent = reasoning
                }
                if let call = delta["function_call"], !call.isNull {
                    choice.functionCall = call
                    piece.functionCall = call
                }
                if let state = delta["functions_state_id"], !state.isNull { choice.functionsStateID = state }
                if let reason = entry["finish_reason"]?.stringValue {
                    choice.finishReason = reason
                    piece.finishReason = reason
                }
            }
            if !piece.isEmpty { deltas.append(piece) }
        }
        return deltas
    }

    /// A chunk of the common shape, as `consume` folds the same chunk from its tree.
    private mutating func fold(_ chunk: ChatChunkScanner.Chunk) -> [ChatDelta] {
        chunkCount += 1
        if let value = chunk.model { model = .string(value) }
        if let value = chunk.created { created = .int(value) }
        if let value = chunk.object { object = .string(value) }
        let index = Int(truncatingIfNeeded: chunk.index)
        var piece = ChatDelta(index: index, content: chunk.content)
        update(index) { choice in
            if let role = chunk.role {
                choice.role = role
                piece.role = role
            }
            choice.content += chunk.content
        }
        return piece.isEmpty ? [] : [piece]
    }

    private mutating func update(_ index: Int, _ body: (inout Choice) -> Void) {
        if let position = choices.firstIndex(where: { $0.index == index }) {
            body(&choices[position].choice)
        } else {
            var choice = Choice()
            body(&choice)
            choices.append((index, choice))
        }
    }

    /// The reply so far in non-stream shape.
    public var result: JSONValue {
        var list: [JSONValue] = []
        for (index, choice) in choices.sorted(by: { $0.index < $1.index }) {
            var message: JSONObject = ["role": .string(choice.role), "content": .string(choice.content)]
            if !choice.reasoning.isEmpty { message["reasoning_content"] = .string(choice.reasoning) }
            if let call = choice.functionCall { message["function_call"] = call }
            if let state = choice.functionsStateID { message["functions_state_id"] = state }
            var entry: JSONObject = ["index": .int(Int64(index)), "message": .object(message)]
            if let reason = choice.finishReason { entry["finish_reason"] = .string(reason) }
            list.append(.object(entry))
        }
        var object: JSONObject = ["choices": .array(list)]
        if let created { object["created"] = created }
        if let model { object["model"] = model }
        object["object"] = self.object ?? "chat.completion"
        if let usage { object["usage"] = usage }
        return .object(object)
    }
}
