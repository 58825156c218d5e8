import CurlHTTP
import Foundation
import GigaChatProtocol
import Logging

/// Reading replies: whole bodies with a cap, and the event streams of both chat contracts.
extension GigaChatClient {
    // MARK: Reading replies

    /// Reads the rest of a body; throws CurlError on transfer failure.
    static func readBody(_ iterator: inout HTTPTransfer.AsyncIterator, limit: Int) async throws -> [UInt8] {
        var body: [UInt8] = []
        while let event = try await iterator.next() {
            if case .body(let bytes) = event {
                body.append(contentsOf: bytes)
                if body.count > limit {
                    throw APIError(.malformed, "the API's reply is larger than \(limit) bytes")
                }
            }
        }
        return body
    }

    /// Reads a streamed chat reply of either contract, passing on what each upstream read carries in one
    /// call of `onOutput`.
    static func readChatStream<Accumulator: ChatStreamAccumulating>(
        _ accumulatorType: Accumulator.Type,
        head: HTTPResponseHead,
        iterator: inout HTTPTransfer.AsyncIterator,
        onOutput: @Sendable ([Accumulator.Output]) async throws -> Void
    ) async throws -> JSONValue {
        let contentType = head.header("Content-Type")?.lowercased() ?? ""
        if contentType.hasPrefix("application/json") {
            // Some gateways ignore stream:true; pass the whole answer on at once.
            let body = try await readBody(&iterator, limit: maxBodyBytes)
            guard let json = try? JSONValue(parsing: body) else {
                throw APIError(.malformed, "the API answered a streaming chat with invalid JSON", status: head.status)
            }
            let outputs = Accumulator.outputs(forWholeResponse: json)
            if !outputs.isEmpty { try await onOutput(outputs) }
            return json
        }
        var parser = SSEParser()
        var accumulator = Accumulator()
        var delivered = false
        func handle(_ events: [SSEEvent]) async throws {
            var outputs: [Accumulator.Output] = []
            var failure: APIError?
            for event in events where !accumulator.isFinished {
                do {
                    outputs += try accumulator.take(event)
                } catch {
                    // What arrived before the failing event in the same read still reaches the client.
                    failure = error
                    break
                }
            }
            if !outputs.isEmpty {
                delivered = true
                do {
                    try await onOutput(outputs)
                } catch {
                    throw APIError(.cancelled, "the client went away", partial: accumulator.result)
                }
            }
            if let failure { throw failure }
        }
        do {
            while let event = try await iterator.next() {
                guard case .body(let bytes) = event else { continue }
                try await handle(try parser.feed(bytes))
            }
            try await handle(try parser.finish())
        } catch let error as CurlError {
            if error.kind == .cancelled {
                throw APIError(.cancelled, "request cancelled", partial: delivered ? accumulator.result : nil)
            }
            // Nothing passed on yet: the caller may retry safely. Otherwise the reply is partial.
            if !delivered, accumulator.chunkCount == 0 { throw error }
            throw APIError(
                .truncated, "the reply broke off: \(error.message); the text so far is partial",
                partial: accumulator.result
            ).withKind(error.kind == .timedOut ? .timedOut : .truncated)
        } catch let error as SSEParseError {
            throw APIError(.malformed, "the API sent a malformed event stream: \(error.message)", partial: accumulator.result)
        }
        RequestMetrics.current?.note(answer: accumulator.result)
        if let failure = accumulator.failure {
            throw APIError(.truncated, failure, partial: accumulator.result)
        }
        return accumulator.result
    }
}

/// What the stream reader needs of each contract's accumulator.
protocol ChatStreamAccumulating: Sendable {
    associatedtype Output: Sendable
    init()
    /// Folds one event into the result; returns what to pass on.
    mutating func take(_ event: SSEEvent) throws(APIError) -> [Output]
    var result: JSONValue { get }
    /// Why the stream, now ended, is not a finished reply; nil when it is.
    var failure: String? { get }
    /// Whether the stream's own end marker was seen, after which nothing more is read.
    var isFinished: Bool { get }
    var chunkCount: Int { get }
    /// What a whole JSON answer (a gateway that ignored `stream: true`) passes on.
    static func outputs(forWholeResponse response: JSONValue) -> [Output]
}

extension ChatStreamAccumulator: ChatStreamAccumulating {
    mutating func take(_ event: SSEEvent) throws(APIError) -> [ChatDelta] {
        try consume(event)
    }

    var failure: String? {
        sawDone ? nil : "the reply ended without [DONE]: the stream was cut off and the text is partial"
    }

    var isFinished: Bool { sawDone }

    static func outputs(forWholeResponse response: JSONValue) -> [ChatDelta] {
        guard let content = response["choices"]?[0]?["message"]?["content"]?.stringValue, !content.isEmpty else { return [] }
        return [ChatDelta(index: 0, content: content)]
    }
}

extension ChatV2Accumulator: ChatStreamAccumulating {
    mutating func take(_ event: SSEEvent) throws(APIError) -> [ChatV2Event] {
        try consume(event).map { [$0] } ?? []
    }

    /// v2 streams have no end marker: everything up to the end of the body is read.
    var isFinished: Bool { false }

    static func outputs(forWholeResponse response: JSONValue) -> [ChatV2Event] { [] }
}
