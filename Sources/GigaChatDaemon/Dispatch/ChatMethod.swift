import GigaChatAPI
import GigaChatProtocol

/// `chat`: params are GigaChat's chat body, passed through; streamed replies go out as chat.delta
/// notifications and end with one result in the non-stream shape.
struct ChatMethod: Sendable {
    /// Params the daemon consumes itself instead of passing them to the API.
    static let daemonParams: Set<String> = ["session_id", "conversation", "deadline_ms"]

    let upstream: UpstreamService
    let conversations: ConversationStore
    let fileIO: FileIO

    /// What a chat keeps while it waits for its turn: the body already serialized (about the size of its
    /// request line) rather than the parsed tree (many times that), unless a conversation needs the tree.
    private struct Prepared: Sendable {
        var sessionID: String?
        var conversation: String?
        /// Set for a conversation turn, which merges the stored history into it.
        var body: JSONObject?
        var serialized: GigaChatClient.PreparedChat?
    }

    /// Takes the params out of `params` (so no one else holds the tree) and validates them.
    private static func prepare(_ params: Params, client: GigaChatClient) throws(RPCError) -> Prepared {
        let body = try validatedBody(params)
        var prepared = Prepared(sessionID: try params.headerValue("session_id"), conversation: try params.string("conversation"))
        if let name = prepared.conversation {
            try ConversationStore.validate(name)
            prepared.body = body
        } else {
            prepared.serialized = client.prepareChat(body)
        }
        return prepared
    }

    func callAsFunction(_ params: RequestParams, context: RequestContext) async throws(RPCError) -> JSONValue {
        let client = await upstream.client
        let prepared: Prepared
        do throws(RPCError) {
            prepared = try Self.prepare(Params(params.take()), client: client)
            params.markConsumed()
        } catch {
            params.markConsumed()
            throw error
        }
        guard let name = prepared.conversation, let body = prepared.body else {
            guard let serialized = prepared.serialized else { return .null }
            return try await send(serialized, sessionID: prepared.sessionID, client: client, context: context)
        }
        let store = conversations
        let fileIO = fileIO
        return try await store.withLock(name) { () throws(RPCError) -> JSONValue in
            var conversation = try await fileIO.run { () throws(RPCError) in try store.load(name) }
            let turn = body["messages"]?.arrayValue ?? []
            var history = conversation.messages
            if turn.contains(where: { $0["role"] == "system" }) {
                history.removeAll { $0["role"] == "system" }
            }
            // The API wants the one system message first.
            let merged = history.filter { $0["role"] == "system" } + turn.filter { $0["role"] == "system" }
                + history.filter { $0["role"] != "system" } + turn.filter { $0["role"] != "system" }
            var withHistory = body
            withHistory["messages"] = .array(merged)
            let result = try await send(client.prepareChat(withHistory), sessionID: prepared.sessionID, client: client, context: context)
            conversation.messages = merged
            if let reply = result["choices"]?[0]?["message"]?.objectValue {
                var stored: JSONObject = ["role": reply["role"] ?? "assistant", "content": reply["content"] ?? ""]
                for key in ["function_call", "functions_state_id"] { if let value = reply[key] { stored[key] = value } }
                conversation.messages.append(.object(stored))
            }
            let finished = conversation
            do throws(RPCError) {
                try await fileIO.run { () throws(RPCError) in try store.save(finished) }
            } catch {
                // The API produced (and billed) the reply: it goes to the client even though it could not
                // be kept, with the reason it was not.
                throw RPCError(
                    .localError,
                    "the reply was not saved to conversation \(name): \(error.message)",
                    data: ["reason": "conversation_save", "result": result]
                )
            }
            return result
        }
    }

    private func send(
        _ body: GigaChatClient.PreparedChat, sessionID: String?, client: GigaChatClient, context: RequestContext
    ) async throws(RPCError) -> JSONValue {
        let requestID = context.id
        let notify = context.notify
        do {
            return try await client.chat(body, sessionID: sessionID) { deltas in
                // A notification request gets no reply lines at all, deltas included.
                guard let requestID else { return }
                // All deltas of one upstream read go out in one write: per-line writes cost a syscall and
                // an event-loop wake-up each.
                try await notify(deltas.map { .notification(method: RPCMethod.chatDelta, params: Self.deltaParams($0, id: requestID)) })
            }
        } catch {
            throw error.rpcError
        }
    }

    static func deltaParams(_ delta: ChatDelta, id: RPCID) -> JSONObject {
        var params: JSONObject = ["id": id.json, "content": .string(delta.content)]
        if delta.index != 0 { params["index"] = .int(Int64(delta.index)) }
        if let call = delta.functionCall { params["function_call"] = call }
        if let reasoning = delta.reasoningContent, !reasoning.isEmpty { params["reasoning_content"] = .string(reasoning) }
        if let reason = delta.finishReason { params["finish_reason"] = .string(reason) }
        return params
    }

    /// Checks what the API would reject with a less helpful message, and strips daemon-only params.
    static func validatedBody(_ params: Params) throws(RPCError) -> JSONObject {
        guard let messages = try params.array("messages") else {
            throw Params.invalid("\"messages\" is required: a list of {\"role\", \"content\"} objects")
        }
        guard !messages.isEmpty else { throw Params.invalid("\"messages\" must not be empty") }
        for (index, message) in messages.enumerated() {
            guard case .object(let fields) = message else {
                throw Params.invalid("messages[\(index)] must be an object, got \(message.typeName)")
            }
            guard let role = fields["role"], role.stringValue != nil else {
                throw Params.invalid("messages[\(index)].role must be a string")
            }
            if let content = fields["content"], !content.isNull, content.stringValue == nil {
                throw Params.invalid("messages[\(index)].content must be a string, got \(content.typeName)")
            }
        }
        _ = try params.string("model")
        _ = try params.bool("stream")
        for key in ["temperature", "top_p", "repetition_penalty", "update_interval"] { _ = try params.number(key) }
        for key in ["max_tokens", "n"] { _ = try params.integer(key) }
        var body = params.object
        for key in daemonParams { body[key] = nil }
        return body
    }
}
