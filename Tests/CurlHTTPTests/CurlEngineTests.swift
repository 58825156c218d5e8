import Foundation
import Testing

@testable import CurlHTTP

/// End-to-end behaviour of `CurlEngine` against a local HTTPS server on 127.0.0.1.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct CurlEngineTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI.get()
    }

    private func request(
        _ url: String,
        method: HTTPRequest.Method = .get,
        headers: [(name: String, value: String)] = [],
        body: HTTPRequest.Body = .none,
        timeout: Double = 10
    ) -> HTTPRequest {
        HTTPRequest(
            method: method,
            url: url,
            headers: headers,
            body: body,
            tls: TLSOptions(caBundlePEM: pki.caPEM),
            timeoutSeconds: timeout
        )
    }

    // MARK: Plain requests

    @Test func getDeliversStatusHeadersAndBody() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let (head, body) = try await engine.perform(request(server.url("/hello"))).collect(upTo: 1 << 20)
        #expect(head.status == 200)
        #expect(head.header("content-type") == "text/plain")
        #expect(head.header("CONTENT-LENGTH") == "11")
        #expect(head.headers.contains { $0.name == "Content-Type" })
        #expect(String(decoding: body, as: UTF8.self) == "hello world")
    }

    @Test func postEchoesBytesAndSendsHeaders() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let payload: [UInt8] = [0, 1, 2, 13, 10, 0, 255, 254] + Array("json body".utf8)
        let transfer = engine.perform(
            request(server.url("/echo"), method: .post, headers: [(name: "X-Test", value: "abc")], body: .bytes(payload))
        )
        let (head, body) = try await transfer.collect(upTo: 1 << 20)
        #expect(head.status == 200)
        #expect(head.header("x-echo-header") == "abc")
        #expect(body == payload)
    }

    @Test func largePostDropsInterimContinueHead() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        // Big enough that libcurl sends "Expect: 100-continue" and the server answers 100 before 200.
        let payload = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var events: [HTTPEvent] = []
        var body: [UInt8] = []
        for try await event in engine.perform(request(server.url("/echo"), method: .post, body: .bytes(payload))) {
            events.append(event)
            if case .body(let bytes) = event { body += bytes }
        }
        guard case .head(let head) = events.first else {
            Issue.record("first event is not the head")
            return
        }
        #expect(head.status == 200)
        #expect(head.header("X-Expect") == "100-continue")
        #expect(events.dropFirst().allSatisfy { if case .body = $0 { true } else { false } })
        #expect(body == payload)

        // An empty value removes a header libcurl would add itself.
        let withoutExpect = try await engine.perform(
            request(server.url("/echo"), method: .post, headers: [(name: "Expect", value: "")], body: .bytes(payload))
        ).collect(upTo: 4 << 20)
        #expect(withoutExpect.head.header("X-Expect") == "")
        #expect(withoutExpect.body == payload)
    }

    @Test func interimEarlyHintsAreDropped() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let (head, body) = try await engine.perform(request(server.url("/interim"))).collect(upTo: 1 << 20)
        #expect(head.status == 200)
        #expect(head.header("Link") == nil)
        #expect(String(decoding: body, as: UTF8.self) == "after interim")
    }

    @Test func errorStatusStillDeliversBody() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let (head, body) = try await engine.perform(request(server.url("/error"))).collect(upTo: 1 << 20)
        #expect(head.status == 500)
        #expect(String(decoding: body, as: UTF8.self) == "internal failure")
    }

    @Test func deleteWithoutResponseBodyYieldsOnlyHead() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        var events: [HTTPEvent] = []
        for try await event in engine.perform(request(server.url("/files/42"), method: .delete)) {
            events.append(event)
        }
        #expect(events.count == 1)
        guard case .head(let head) = events.first else {
            Issue.record("expected a single head event")
            return
        }
        #expect(head.status == 204)
        #expect(head.header("x-deleted") == "/files/42")
    }

    @Test func multipartUploadCarriesNameFilenameAndType() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let parts = [
            MultipartPart(name: "file", filename: "notes.txt", contentType: "text/plain", data: Array("hello multipart".utf8)),
            MultipartPart(name: "purpose", data: Array("general".utf8)),
        ]
        let (head, body) = try await engine.perform(request(server.url("/upload"), method: .post, body: .multipart(parts)))
            .collect(upTo: 1 << 20)
        let text = String(decoding: body, as: UTF8.self)
        #expect(head.status == 200)
        #expect(head.header("X-Request-Content-Type")?.hasPrefix("multipart/form-data; boundary=") == true)
        #expect(text.contains("Content-Disposition: form-data; name=\"file\"; filename=\"notes.txt\""))
        #expect(text.contains("Content-Type: text/plain"))
        #expect(text.contains("hello multipart"))
        #expect(text.contains("Content-Disposition: form-data; name=\"purpose\""))
        #expect(text.contains("general"))
    }

    // MARK: Streaming

    @Test func streamedResponseArrivesIncrementally() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        var iterator = engine.perform(request(server.url("/stream?tag=incremental"))).makeAsyncIterator()
        guard case .head(let head) = try await iterator.next() else {
            Issue.record("expected the head first")
            return
        }
        #expect(head.status == 200)
        guard case .body(let first) = try await iterator.next() else {
            Issue.record("expected the first chunk")
            return
        }
        #expect(String(decoding: first, as: UTF8.self) == "first")

        // The server holds the rest back until released, so everything so far came before it finished.
        let (_, released) = try await engine.perform(request(server.url("/release?tag=incremental"))).collect(upTo: 1024)
        #expect(String(decoding: released, as: UTF8.self) == "released")

        var rest: [UInt8] = []
        while let event = try await iterator.next() {
            if case .body(let bytes) = event { rest += bytes }
        }
        #expect(String(decoding: rest, as: UTF8.self) == "second")
    }

    @Test func connectionIsReusedForSequentialRequests() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let first = try await engine.perform(request(server.url("/hello"))).collect(upTo: 1024)
        let second = try await engine.perform(request(server.url("/hello"))).collect(upTo: 1024)
        let firstConnection = try #require(first.head.header("X-Conn-Id"))
        #expect(second.head.header("X-Conn-Id") == firstConnection)
    }

    @Test func concurrentTransfersShareOneEngine() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let size = 1 << 20
        let url = server.url("/big?size=\(size)")
        let tls = TLSOptions(caBundlePEM: pki.caPEM)
        let sizes = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    var count = 0
                    for try await event in engine.perform(HTTPRequest(url: url, tls: tls, timeoutSeconds: 10)) {
                        if case .body(let bytes) = event {
                            guard bytes.enumerated().allSatisfy({ $0.element == UInt8(($0.offset + count) % 251) }) else {
                                return -1
                            }
                            count += bytes.count
                        }
                    }
                    return count
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(sizes == Array(repeating: size, count: 12))
    }

    @Test func queuedTransfersWaitForTheConnectionLimitWithoutTimingOut() async throws {
        let server = try TestServer()
        let engine = try CurlEngine(maxConnectionsPerHost: 1)
        defer { engine.shutdown() }

        // Each reply takes ~1.2 s, so the third one waits ~2.4 s for the single connection: longer than the
        // 1 s silence limit, which must only count once the request is actually on a connection.
        let url = server.url("/drip?count=4&interval=0.3")
        let tls = TLSOptions(caBundlePEM: pki.caPEM)
        let connections = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let (head, body) = try await engine.perform(HTTPRequest(url: url, tls: tls, timeoutSeconds: 1))
                        .collect(upTo: 1024)
                    return body.count == 16 ? head.header("X-Conn-Id") ?? "?" : "short body"
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(connections.count == 1)
        #expect(!connections.contains("short body"))
    }

    // MARK: Backpressure

    @Test(arguments: [false, true])
    func slowConsumerGetsEveryByteWithBoundedBuffering(chunked: Bool) async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let size = chunked ? 8 << 20 : 20 << 20
        // A short silence limit: a transfer paused for our slow consumer must not count as a silent server.
        let transfer = engine.perform(request(server.url("/big?size=\(size)&chunked=\(chunked ? 1 : 0)"), timeout: 1))
        var offset = 0
        var mismatch: Int?
        var stalledOnce = false
        for try await event in transfer {
            guard case .body(let bytes) = event else { continue }
            for (index, byte) in bytes.enumerated() where byte != UInt8((offset + index) % 251) {
                mismatch = mismatch ?? offset + index
            }
            offset += bytes.count
            if !stalledOnce, offset >= 1 << 20 {
                stalledOnce = true
                try await Task.sleep(for: .milliseconds(1500))
            } else {
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        #expect(offset == size)
        #expect(mismatch == nil)
        #expect(transfer.pauseCount > 0)
        // At most one libcurl write (16 KiB) beyond the high watermark is ever held.
        #expect(transfer.bufferedBytesHighWater <= TransferState.highWatermark + 16 * 1024)
    }

    // MARK: Cancellation

    @Test func cancellingTheConsumerClosesTheConnection() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let (started, startedContinuation) = AsyncStream<String>.makeStream()
        let transfer = engine.perform(request(server.url("/endless?tag=cancel")))
        let consumer = Task {
            var connection = ""
            var chunks = 0
            for try await event in transfer {
                switch event {
                case .head(let head):
                    connection = head.header("X-Conn-Id") ?? ""
                case .body:
                    chunks += 1
                    if chunks == 3 { startedContinuation.yield(connection) }
                }
            }
        }
        var startedIterator = started.makeAsyncIterator()
        let connection = try #require(await startedIterator.next())

        let cancelledAt = ContinuousClock.now
        consumer.cancel()
        let outcome = await consumer.result
        let error = try #require(outcomeError(outcome))
        #expect(error.kind == .cancelled)

        let closedAfter = try await waitUntilServerSeesClose(server, engine: engine, tag: "cancel", since: cancelledAt)
        #expect(closedAfter < .seconds(1))

        // The aborted connection is gone, so the next request must come in on a new one.
        let next = try await engine.perform(request(server.url("/hello"))).collect(upTo: 1024)
        #expect(next.head.header("X-Conn-Id") != connection)
    }

    @Test func droppingTheIteratorClosesTheConnection() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        try await readHeadAndOneChunkThenDrop(engine.perform(request(server.url("/endless?tag=dropped"))))
        let droppedAt = ContinuousClock.now
        let closedAfter = try await waitUntilServerSeesClose(server, engine: engine, tag: "dropped", since: droppedAt)
        #expect(closedAfter < .seconds(1))
    }

    @Test func explicitCancelEndsTheSequenceWithCancelled() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let transfer = engine.perform(request(server.url("/endless?tag=explicit")))
        var iterator = transfer.makeAsyncIterator()
        _ = try await iterator.next()
        transfer.cancel()
        let error = await #expect(throws: CurlError.self) {
            while try await iterator.next() != nil {}
        }
        #expect(error?.kind == .cancelled)
        _ = try await waitUntilServerSeesClose(server, engine: engine, tag: "explicit", since: .now)
    }

    @Test func shutdownAbortsRunningTransfersAndRefusesNewOnes() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()

        var iterator = engine.perform(request(server.url("/endless?tag=shutdown"))).makeAsyncIterator()
        _ = try await iterator.next()
        engine.shutdown()
        let running = await #expect(throws: CurlError.self) {
            while try await iterator.next() != nil {}
        }
        #expect(running?.kind == .cancelled)

        let late = await #expect(throws: CurlError.self) {
            _ = try await engine.perform(request(server.url("/hello"))).collect(upTo: 1024)
        }
        #expect(late?.kind == .cancelled)
    }

    // MARK: Timeouts and failures

    @Test func silenceAfterTheHeadTimesOut() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let started = ContinuousClock.now
        var head: HTTPResponseHead?
        var received = 0
        let error = await #expect(throws: CurlError.self) {
            for try await event in engine.perform(request(server.url("/stall"), timeout: 1)) {
                switch event {
                case .head(let value): head = value
                case .body(let bytes): received += bytes.count
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        #expect(error?.kind == .timedOut)
        #expect(error?.bytesReceived == 7)
        #expect(head?.status == 200)
        #expect(received == 7)
        #expect(elapsed >= .milliseconds(900))
        #expect(elapsed < .seconds(2))
    }

    @Test func silenceBeforeTheHeadTimesOut() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let started = ContinuousClock.now
        let error = await #expect(throws: CurlError.self) {
            _ = try await engine.perform(request(server.url("/stall-head"), timeout: 1)).collect(upTo: 1024)
        }
        let elapsed = ContinuousClock.now - started
        #expect(error?.kind == .timedOut)
        #expect(elapsed < .seconds(2))
    }

    @Test func untrustedCertificateFailsVerification() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        var untrusted = request(server.url("/hello"))
        untrusted.tls = TLSOptions(caBundlePEM: pki.unrelatedCAPEM)
        let error = await #expect(throws: CurlError.self) {
            _ = try await engine.perform(untrusted).collect(upTo: 1024)
        }
        #expect(error?.kind == .tlsVerification)
    }

    @Test func certificateForAnotherHostFailsVerification() async throws {
        let server = try TestServer(certificate: pki.wrongNameCertificate, key: pki.wrongNameKey)
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let error = await #expect(throws: CurlError.self) {
            _ = try await engine.perform(request(server.url("/hello"))).collect(upTo: 1024)
        }
        #expect(error?.kind == .tlsVerification)
    }

    @Test func mutualTLSPresentsTheClientCertificate() async throws {
        let server = try TestServer(certificate: pki.serverCertificate, key: pki.serverKey, clientCA: pki.caPath)
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        var withCertificate = request(server.url("/whoami"))
        withCertificate.tls = TLSOptions(
            caBundlePEM: pki.caPEM,
            clientCertificatePath: pki.clientCertificate,
            clientKeyPath: pki.clientKey,
            clientKeyPassword: pki.clientKeyPassword
        )
        let (head, body) = try await engine.perform(withCertificate).collect(upTo: 1024)
        #expect(head.status == 200)
        #expect(String(decoding: body, as: UTF8.self) == "test-client")

        await #expect(throws: CurlError.self) {
            _ = try await engine.perform(request(server.url("/whoami"))).collect(upTo: 1024)
        }
    }

    @Test func closedPortFailsToConnect() async throws {
        let server = try TestServer()
        let port = server.port
        server.stop()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let error = await #expect(throws: CurlError.self) {
            _ = try await engine.perform(request("https://127.0.0.1:\(port)/hello")).collect(upTo: 1024)
        }
        #expect(error?.kind == .couldNotConnect)
    }

    @Test func headerInjectionIsRejected() async throws {
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let error = await #expect(throws: CurlError.self) {
            _ = try await engine.perform(
                request("https://127.0.0.1:9/", headers: [(name: "X-Test", value: "a\r\nX-Injected: b")])
            ).collect(upTo: 1024)
        }
        #expect(error?.kind == .other)
    }

    @Test func collectRefusesOversizedBodies() async throws {
        let server = try TestServer()
        let engine = try CurlEngine()
        defer { engine.shutdown() }

        let error = await #expect(throws: CurlError.self) {
            _ = try await engine.perform(request(server.url("/big?size=100000"))).collect(upTo: 1000)
        }
        #expect(error?.kind == .other)
    }

    // MARK: Helpers

    private func readHeadAndOneChunkThenDrop(_ transfer: HTTPTransfer) async throws {
        var iterator = transfer.makeAsyncIterator()
        _ = try await iterator.next()
        _ = try await iterator.next()
    }

    private func outcomeError(_ result: Result<Void, any Error>) -> CurlError? {
        if case .failure(let error) = result { return error as? CurlError }
        return nil
    }

    /// Polls the server until it reports that its `/endless` writer for `tag` hit a closed connection.
    private func waitUntilServerSeesClose(
        _ server: TestServer,
        engine: CurlEngine,
        tag: String,
        since start: ContinuousClock.Instant
    ) async throws -> Duration {
        while ContinuousClock.now - start < .seconds(5) {
            let (_, body) = try await engine.perform(request(server.url("/closed?tag=\(tag)"))).collect(upTo: 16)
            if body == Array("yes".utf8) { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the server never saw the connection for \(tag) close")
        return .seconds(5)
    }
}
