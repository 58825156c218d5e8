import Foundation
import GigaChatAPI
import GigaChatProtocol
import NIOConcurrencyHelpers
import NIOHTTP1

/// `POST /v1/chat/completions`.
enum ChatEndpoint {
    static func handle(_ exchange: Exchange) async throws(OpenAIError) {
        var request = try ChatRequest(
            try exchange.jsonObject(), aliases: exchange.settings.modelAliases, sessionHeader: exchange.request.header("X-Session-ID")
        )
        let client = exchange.client
        if !request.images.isEmpty {
            try await attachImages(&request, exchange: exchange)
        }
        let model = request.body["model"]?.stringValue ?? client.configuration.model
        let reply = ChatReply(model: model, legacyFunctions: request.legacyFunctions, created: Int64(Date().timeIntervalSince1970))

        guard request.stream else {
            let result: JSONValue
            do {
                result = try await run(request, client: client, stream: nil)
            } catch {
                throw await failure(error, model: request.requestedModel ?? model, exchange: exchange)
            }
            try? await exchange.response.sendJSON(.ok, reply.completion(result, stop: request.stop))
            return
        }

        let stream = ChatStream(reply: reply, response: exchange.response, stops: request.stop, includeUsage: request.includeUsage)
        do {
            let result = try await run(request, client: client, stream: stream)
            try? await stream.finish(result)
        } catch {
            if stream.reachedStop, exchange.control.ending == nil {
                // The daemon ended the upstream transfer itself at a stop sequence: a normal end.
                try? await stream.finish(error.partial ?? .object([:]))
                return
            }
            let mapped = await failure(error, model: request.requestedModel ?? model, exchange: exchange)
            guard stream.started else { throw mapped }
            if exchange.control.ending == .clientLeft || exchange.control.ending == .clientStall { return }
            await stream.fail(mapped)
        }
    }

    /// Runs the request upstream in its contract and gives the answer (and a failure's partial answer)
    /// in v1's shape, passing text on to `stream` as it arrives.
    static func run(_ request: ChatRequest, client: GigaChatClient, stream: ChatStream?) async throws(APIError) -> JSONValue {
        switch request.contract {
        case .v1:
            let prepared = client.prepareChat(request.body)
            return try await client.chat(prepared, sessionID: request.sessionID) { deltas in
                try await stream?.send(deltas.lazy.filter { $0.index == 0 }.map { ChatStream.Piece(text: $0.content, reasoning: $0.reasoningContent) })
            }
        case .v2:
            let prepared = client.prepareChat(ChatV2Bridge.body(request.body), contract: .v2Chat)
            do {
                let result = try await client.chatV2(prepared, sessionID: request.sessionID) { events in
                    try await stream?.send(events.map { ChatStream.Piece(text: $0.text ?? "", reasoning: $0.reasoningText) })
                }
                return ChatV2Bridge.result(result)
            } catch {
                var error = error
                error.partial = error.partial.map(ChatV2Bridge.result)
                throw error
            }
        }
    }

    /// Uploads the request's inline images (each distinct one once) and attaches them to their messages.
    static func attachImages(_ request: inout ChatRequest, exchange: Exchange) async throws(OpenAIError) {
        guard case .array(var messages)? = request.body["messages"] else { return }
        for image in request.images {
            let id: String
            do {
                id = try await exchange.services.images.upload(image.data, mimeType: image.mimeType, client: exchange.client)
            } catch {
                throw exchange.failure(error)
            }
            guard messages.indices.contains(image.messageIndex), case .object(var message) = messages[image.messageIndex] else { continue }
            var attachments = message["attachments"]?.arrayValue ?? []
            if !attachments.contains(.string(id)) { attachments.append(.string(id)) }
            message["attachments"] = .array(attachments)
            messages[image.messageIndex] = .object(message)
        }
        request.body["messages"] = .array(messages)
        request.images = []
    }

    /// An upstream failure in OpenAI's terms; an unknown model becomes OpenAI's `model_not_found`, listing
    /// what there is and how to map other names.
    static func failure(_ error: APIError, model: String, exchange: Exchange) async -> OpenAIError {
        var mapped = exchange.failure(error)
        if mapped.status == .notFound {
            mapped = await modelNotFound(model, exchange: exchange)
        }
        return mapped
    }

    static func modelNotFound(_ model: String, exchange: Exchange) async -> OpenAIError {
        let names = await exchange.services.models.names(client: exchange.client)
        var message = "The model `\(model)` does not exist or you do not have access to it."
        if !names.isEmpty { message += " GigaChat models: \(names.joined(separator: ", "))." }
        let aliases = exchange.settings.modelAliases.keys.sorted()
        if !aliases.isEmpty { message += " Aliases: \(aliases.joined(separator: ", "))." }
        message += " Map other names with GIGACHATD_OPENAI_MODEL_ALIASES, e.g. {\"\(model)\":\"GigaChat-2-Max\"}."
        return OpenAIError(.notFound, message, param: "model", code: "model_not_found")
    }
}

/// A streamed reply in OpenAI's chunk format. The HTTP head goes out with the first delta, so a request
/// that fails before any text arrives still gets a proper error status instead of an event stream.
final class ChatStream: Sendable {
    private struct State {
        var started = false
        var roleSent = false
        /// Text held back because it may be the start of a stop sequence.
        var pending = ""
        var reachedStop = false
    }

    /// Thrown from the delta callback to end the upstream transfer at a stop sequence.
    struct StopReached: Error {}

    let reply: ChatReply
    let response: ResponseWriter
    let stops: [String]
    let includeUsage: Bool
    private let state = NIOLockedValueBox(State())

    init(reply: ChatReply, response: ResponseWriter, stops: [String], includeUsage: Bool) {
        self.reply = reply
        self.response = response
        self.stops = stops
        self.includeUsage = includeUsage
    }

    var started: Bool { state.withLockedValue { $0.started } }
    var reachedStop: Bool { state.withLockedValue { $0.reachedStop } }

    static func event(_ json: JSONValue, into bytes: inout [UInt8]) {
        bytes.append(contentsOf: "data: ".utf8)
        json.write(into: &bytes)
        bytes.append(contentsOf: "\n\n".utf8)
    }

    private func begin() async throws {
        let first = state.withLockedValue { state -> Bool in
            defer { state.started = true }
            return !state.started
        }
        if first {
            try await response.start(
                .ok,
                headers: [
                    ("Content-Type", "text/event-stream; charset=utf-8"),
                    ("Cache-Control", "no-cache"),
                ])
        }
    }

    /// The events for `delta`'s role (on the first chunk) and `text`.
    private func textEvents(_ text: String, reasoning: String?, into bytes: inout [UInt8]) {
        let roleFirst = state.withLockedValue { state -> Bool in
            defer { state.roleSent = true }
            return !state.roleSent
        }
        if roleFirst {
            Self.event(reply.chunk(delta: ["role": "assistant", "content": ""]), into: &bytes)
        }
        if let reasoning, !reasoning.isEmpty {
            Self.event(reply.chunk(delta: ["reasoning_content": .string(reasoning)]), into: &bytes)
        }
        if !text.isEmpty {
            Self.event(reply.chunk(delta: ["content": .string(text)]), into: &bytes)
        }
    }

    /// A piece of the reply as it arrives: answer text and reasoning text, never mixed.
    struct Piece {
        var text: String
        var reasoning: String?
    }

    /// Passes pieces on; throws `StopReached` once a stop sequence ends the reply.
    func send(_ pieces: some Sequence<Piece>) async throws {
        var bytes: [UInt8] = []
        var stopNow = false
        for piece in pieces {
            let (text, stopped) = state.withLockedValue { state -> (String, Bool) in
                guard !state.reachedStop else { return ("", true) }
                state.pending += piece.text
                if let cut = StopFilter.cut(state.pending, at: stops) {
                    state.pending = ""
                    state.reachedStop = true
                    return (cut, true)
                }
                let hold = stops.isEmpty ? 0 : StopFilter.holdBack(state.pending, stops: stops)
                let ready = String(state.pending.dropLast(hold))
                state.pending = String(state.pending.suffix(hold))
                return (ready, false)
            }
            textEvents(text, reasoning: piece.reasoning, into: &bytes)
            if stopped {
                stopNow = true
                break
            }
        }
        if !bytes.isEmpty {
            try await begin()
            try await response.write(bytes)
        }
        if stopNow { throw StopReached() }
    }

    /// The end of a reply: held-back text, a function call, the finish reason, usage, [DONE].
    func finish(_ result: JSONValue) async throws {
        let (pending, stopped) = state.withLockedValue { state -> (String, Bool) in
            defer { state.pending = "" }
            return (state.pending, state.reachedStop)
        }
        var bytes: [UInt8] = []
        let choice = result["choices"]?[0]
        textEvents(pending, reasoning: nil, into: &bytes)
        if !stopped, let message = choice?["message"], let call = ChatReply.calls(in: message).first {
            if reply.legacyFunctions {
                let delta: JSONObject = ["function_call": ["name": call["name"] ?? "", "arguments": .string(ChatReply.arguments(call["arguments"]))]]
                Self.event(reply.chunk(delta: delta), into: &bytes)
            } else {
                // GigaChat sends each call whole: one chunk per call, as OpenAI streams parallel calls.
                let calls = reply.toolCalls(ChatReply.calls(in: message), stateID: message["functions_state_id"]?.stringValue, streaming: true)
                for call in calls { Self.event(reply.chunk(delta: ["tool_calls": [call]]), into: &bytes) }
            }
        }
        let reason: JSONValue = stopped ? "stop" : reply.finishReason(choice?["finish_reason"]?.stringValue ?? "stop")
        Self.event(reply.chunk(delta: [:], finishReason: reason), into: &bytes)
        if includeUsage, let usage = ChatReply.usage(result["usage"]) {
            Self.event(reply.usageChunk(usage), into: &bytes)
        }
        bytes.append(contentsOf: "data: [DONE]\n\n".utf8)
        try await begin()
        try await response.write(bytes)
        try await response.finish()
    }

    /// A failure after the stream began: an error event, which the `openai` package raises as APIError.
    func fail(_ error: OpenAIError) async {
        var bytes: [UInt8] = []
        Self.event(error.json, into: &bytes)
        let response = self.response
        // A task of its own: NIO refuses writes from a cancelled task.
        await Task {
            try? await response.write(bytes)
            try? await response.finish()
        }.value
    }
}
