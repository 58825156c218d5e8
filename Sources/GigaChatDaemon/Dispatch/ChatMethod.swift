import Foundation
import GigaChatAPI
import GigaChatProtocol

/// `chat` (v1) and `chat.create` (v2): params are GigaChat's chat body of that contract, passed through.
/// Streamed replies go out as notifications (`chat.delta`, `chat.event`) and end with one result in the
/// contract's non-stream shape.
struct ChatMethod: Sendable {
    /// Params the daemon consumes itself instead of passing them to the API.
    static let daemonParams: Set<String> = ["session_id", "conversation", "deadline_ms", "priority"]

    let contract: ChatContract
    let upstream: UpstreamService
    let conversations: ConversationStore
    let fileIO: FileIO

    /// What a chat keeps while it waits for its turn: the body already serialized (about the size of its
    /// request line) rather than the parsed tree (many times that), unless a conversation needs the tree.
    private struct Prepared: Sendable {
        var model: String?
        var sessionID: String?
        var conversation: String?
        /// Set for a conversation turn, which merges the stored history into it.
        var body: JSONObject?
        var serialized: GigaChatClient.PreparedChat?
    }

    /// Validates the params and serializes the body; the parsed tree ends with this call.
    private static func prepare(_ params: Params, contract: ChatContract, client: GigaChatClient) throws(RPCError) -> Prepared {
        let body = try validatedBody(params, contract: contract)
        var prepared = Prepared(
            model: body["model"]?.stringValue,
            sessionID: try params.headerValue("session_id"),
            conversation: try params.string("conversation")
        )
        if let name = prepared.conversation {
            try ConversationStore.validate(name)
            prepared.body = body
        } else {
            prepared.serialized = client.prepareChat(body, contract: contract.upstream)
        }
        return prepared
    }

    func callAsFunction(_ params: RequestParams, context: RequestContext) async throws(RPCError) -> JSONValue {
        let client = await upstream.client
        let prepared: Prepared
        do throws(RPCError) {
            prepared = try Self.prepare(Params(params.take()), contract: contract, client: client)
            params.markConsumed()
        } catch {
            params.markConsumed()
            throw error
        }
        RequestMetrics.current?.update { metrics in
            metrics.modelRequested = prepared.model ?? client.configuration.model
            metrics.conversation = prepared.conversation
            metrics.sessionID = prepared.sessionID
        }
        guard let name = prepared.conversation, let body = prepared.body else {
            guard let serialized = prepared.serialized else { return .null }
            return try await send(serialized, sessionID: prepared.sessionID, client: client, context: context)
        }
        let store = conversations
        let fileIO = fileIO
        let contract = contract
        return try await store.withLock(name) { () throws(RPCError) -> JSONValue in
            var conversation = try await fileIO.run { () throws(RPCError) in try store.load(name) }
            // A stable session id per conversation: the API caches the shared prefix of its turns, and
            // cached input tokens are not billed.
            if conversation.sessionID == nil { conversation.sessionID = UUID().uuidString.lowercased() }
            let turn = (body["messages"]?.arrayValue ?? []).map(MessageForms.neutral)
            var history = conversation.messages
            if turn.contains(where: { $0["role"] == "system" }) {
                history.removeAll { $0["role"] == "system" }
            }
            // The API wants the one system message first.
            let merged =
                history.filter { $0["role"] == "system" } + turn.filter { $0["role"] == "system" }
                + history.filter { $0["role"] != "system" } + turn.filter { $0["role"] != "system" }
            var withHistory = body
            withHistory["messages"] = .array(merged.compactMap { contract == .v1 ? MessageForms.v1($0) : MessageForms.v2($0) })
            let result = try await send(
                client.prepareChat(withHistory, contract: contract.upstream),
                sessionID: Self.noting(prepared.sessionID ?? conversation.sessionID),
                client: client,
                context: context
            )
            conversation.messages = merged + MessageForms.replies(in: result, contract: contract)
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
            // A notification request gets no reply lines at all, streamed pieces included. All pieces of one
            // upstream read go out in one write: per-line writes cost a syscall and a wake-up each.
            switch contract {
            case .v1:
                return try await client.chat(body, sessionID: sessionID) { deltas in
                    guard let requestID else { return }
                    try await notify(deltas.map { .notification(method: RPCMethod.chatDelta, params: Self.deltaParams($0, id: requestID)) })
                }
            case .v2:
                return try await client.chatV2(body, sessionID: sessionID) { events in
                    guard let requestID else { return }
                    try await notify(events.map { .notification(method: RPCMethod.chatEvent, params: Self.eventParams($0, id: requestID)) })
                }
            }
        } catch {
            throw error.rpcError
        }
    }

    /// The session id a turn is sent with, noted for the usage ledger.
    private static func noting(_ sessionID: String?) -> String? {
        RequestMetrics.current?.update { $0.sessionID = sessionID }
        return sessionID
    }

    static func deltaParams(_ delta: ChatDelta, id: RPCID) -> JSONObject {
        var params: JSONObject = ["id": id.json, "content": .string(delta.content)]
        if delta.index != 0 { params["index"] = .int(Int64(delta.index)) }
        if let call = delta.functionCall { params["function_call"] = call }
        if let reasoning = delta.reasoningContent, !reasoning.isEmpty { params["reasoning_content"] = .string(reasoning) }
        if let reason = delta.finishReason { params["finish_reason"] = .string(reason) }
        return params
    }

    static func eventParams(_ event: ChatV2Event, id: RPCID) -> JSONObject {
        var params: JSONObject = ["id": id.json, "event": .string(event.name), "data": event.data]
        if let text = event.text { params["text"] = .string(text) }
        if let reasoning = event.reasoningText { params["reasoning_text"] = .string(reasoning) }
        return params
    }

    /// Checks what the API would reject with a less helpful message, and strips daemon-only params.
    static func validatedBody(_ params: Params, contract: ChatContract) throws(RPCError) -> JSONObject {
        guard let messages = try params.array("messages") else {
            throw Params.invalid("\"messages\" is required: a list of {\"role\", \"content\"} objects")
        }
        guard !messages.isEmpty else { throw Params.invalid("\"messages\" must not be empty") }
        var normalized: [JSONValue] = []
        for (index, message) in messages.enumerated() {
            guard case .object(var fields) = message else {
                throw Params.invalid("messages[\(index)] must be an object, got \(message.typeName)")
            }
            guard let role = fields["role"], role.stringValue != nil else {
                throw Params.invalid("messages[\(index)].role must be a string")
            }
            switch (contract, fields["content"]) {
            case (_, nil), (_, .null?), (.v1, .string?), (.v2, .array?):
                break
            case (.v2, .string(let text)?):
                // A plain string is the one text part people mean by it.
                fields["content"] = [["text": .string(text)]]
            case (.v1, let content?):
                throw Params.invalid("messages[\(index)].content must be a string, got \(content.typeName)")
            case (.v2, let content?):
                throw Params.invalid("messages[\(index)].content must be a list of parts (or a string), got \(content.typeName)")
            }
            normalized.append(.object(fields))
        }
        _ = try params.string("model")
        _ = try params.bool("stream")
        switch contract {
        case .v1:
            for key in ["temperature", "top_p", "repetition_penalty", "update_interval"] { _ = try params.number(key) }
            for key in ["max_tokens", "n"] { _ = try params.integer(key) }
        case .v2:
            if let options = params.object["model_options"], !options.isNull, options.objectValue == nil {
                throw Params.invalid("\"model_options\" must be an object, got \(options.typeName)")
            }
        }
        var body = params.object
        for key in daemonParams { body[key] = nil }
        body["messages"] = .array(normalized)
        return body
    }
}

extension ChatContract {
    var upstream: APICall.Contract {
        switch self {
        case .v1: return .v1
        case .v2: return .v2Chat
        }
    }
}
