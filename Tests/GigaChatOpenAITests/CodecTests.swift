import GigaChatProtocol
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import GigaChatAPI
@testable import GigaChatOpenAI

/// The HTTP pipeline the server uses, on an in-memory channel: what a request looks like once parsed, and
/// what the response writer puts on the wire.
@Suite struct CodecTests {
    typealias HTTPChannel = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private func makeChannel() async throws -> (NIOAsyncTestingChannel, HTTPChannel) {
        let channel = NIOAsyncTestingChannel()
        let wrapped = try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
            return try HTTPChannel(wrappingChannelSynchronously: channel)
        }
        return (channel, wrapped)
    }

    /// Everything written to the wire so far, as text.
    private func written(_ channel: NIOAsyncTestingChannel) async throws -> String {
        var text = ""
        while let buffer = try await channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    @Test func aRequestIsReadWithItsBodyAndAStreamGoesOutChunked() async throws {
        let (channel, wrapped) = try await makeChannel()
        let body = #"{"model":"GigaChat"}"#
        try await channel.writeInbound(
            ByteBuffer(
                string:
                    "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            ))
        try await wrapped.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            guard case .head(let head)? = try await iterator.next() else {
                Issue.record("no head")
                return
            }
            var bytes: [UInt8] = []
            while case .body(let buffer)? = try await iterator.next() {
                bytes += buffer.readableBytesView
            }
            let request = IncomingRequest(head: head, body: bytes)
            #expect(request.path == "/v1/chat/completions")
            #expect(request.query == "x=1")
            #expect(request.method == .POST)
            #expect(String(decoding: request.body, as: UTF8.self) == body)
            #expect(request.keepAlive)

            let response = ResponseWriter(
                outbound: outbound, allocator: channel.allocator, version: head.version, keepAlive: true, requestID: "req_1",
                progress: WriteProgress()
            )
            let stream = ChatStream(
                reply: ChatReply(model: "GigaChat", legacyFunctions: false, created: 7), response: response, stops: [], includeUsage: false
            )
            try await stream.send([ChatStream.Piece(text: "Привет")])
            try await stream.finish(["choices": [["index": 0, "finish_reason": "stop", "message": ["content": "Привет"]]]])
            #expect(response.ended && !response.mustClose)
        }
        let wire = try await written(channel)
        #expect(wire.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(wire.contains("Content-Type: text/event-stream; charset=utf-8\r\n"))
        #expect(wire.contains("transfer-encoding: chunked\r\n"))
        #expect(wire.contains("X-Request-Id: req_1\r\n"))
        #expect(wire.contains(#"data: {"id":"chatcmpl-"#))
        #expect(wire.contains(#""delta":{"content":"Привет"}"#))
        #expect(wire.contains(#""finish_reason":"stop""#))
        #expect(wire.contains("data: [DONE]\n\n"))
        #expect(wire.hasSuffix("0\r\n\r\n"), "the chunked body ends")
    }

    @Test func aWholeResponseHasItsLengthAndSaysWhetherTheConnectionStays() async throws {
        let (channel, wrapped) = try await makeChannel()
        try await channel.writeInbound(ByteBuffer(string: "GET /v1/models HTTP/1.0\r\n\r\n"))
        try await wrapped.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            guard case .head(let head)? = try await iterator.next() else { return }
            #expect(!head.isKeepAlive)
            let response = ResponseWriter(
                outbound: outbound, allocator: channel.allocator, version: head.version, keepAlive: false, requestID: "req_2",
                progress: WriteProgress()
            )
            try await response.sendJSON(.notFound, OpenAIError.notFound("nothing here").json)
            // A second answer to the same request is ignored, never written.
            try await response.sendJSON(.ok, ["late": true])
        }
        let wire = try await written(channel)
        #expect(wire.hasPrefix("HTTP/1.0 404 Not Found\r\n"))
        #expect(wire.contains("Connection: close\r\n"))
        let body = #"{"error":{"message":"nothing here","type":"invalid_request_error","param":null,"code":"not_found"}}"# + "\n"
        #expect(wire.contains("Content-Length: \(body.utf8.count)\r\n"))
        #expect(wire.hasSuffix("\r\n\r\n" + body))
        #expect(!wire.contains("late"))
    }

    @Test func malformedRequestsGet400FromTheCodec() async throws {
        let (channel, _) = try await makeChannel()
        _ = try? await channel.writeInbound(ByteBuffer(string: "NOT HTTP AT ALL\r\n\r\n"))
        let wire = try await written(channel)
        #expect(wire.hasPrefix("HTTP/1.1 400 Bad Request"))
    }

    @Test func aStopSequenceSplitAcrossDeltasIsHeldBackAndEndsTheStream() async throws {
        let (channel, wrapped) = try await makeChannel()
        try await channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        try await wrapped.executeThenClose { _, outbound in
            let response = ResponseWriter(
                outbound: outbound, allocator: channel.allocator, version: .http1_1, keepAlive: true, requestID: "r", progress: WriteProgress()
            )
            let stream = ChatStream(
                reply: ChatReply(model: "m", legacyFunctions: false, created: 0), response: response, stops: ["STOP"], includeUsage: false
            )
            try await stream.send([ChatStream.Piece(text: "one ST")])
            await #expect(throws: ChatStream.StopReached.self) {
                try await stream.send([ChatStream.Piece(text: "OP two")])
            }
            #expect(stream.reachedStop)
            try await stream.finish(["choices": []])
        }
        let wire = try await written(channel)
        #expect(wire.contains(#""content":"one ""#))
        #expect(!wire.contains("ST\""))
        #expect(!wire.contains("two"))
        #expect(wire.contains(#""finish_reason":"stop""#))
    }
}
