import Foundation
import GigaChatProtocol
import Logging
import NIOCore

/// One client connection: reads request lines, runs each request concurrently, and writes exactly one
/// final response per request id, also when the request fails or is cancelled.
struct Connection: Sendable {
    let dispatcher: Dispatcher
    let statistics: DaemonStatistics
    let lifecycle: Lifecycle
    let logger: Logger

    func serve(_ channel: NIOAsyncChannel<LineFrame, ByteBuffer>) async {
        guard let peer = await PeerCredentials.uid(of: channel.channel) else {
            // Gone before we could ask who it was (a readiness probe, a client that connects and
            // closes): nothing to refuse, nothing to log as an intrusion.
            logger.debug("connection closed before its peer credentials could be read")
            try? await channel.channel.close()
            return
        }
        guard PeerCredentials.isAllowed(peer) else {
            await refuse(channel, peer: peer)
            return
        }
        let requests = ConnectionRequests()
        await statistics.connectionOpened()
        await lifecycle.opened(channel.channel, requests: requests)
        // A client that hangs up fully (not a half-close, as `socat` does after sending) closes the
        // channel: whatever it still had running is cancelled, which aborts the upstream transfers.
        channel.channel.closeFuture.whenComplete { _ in
            Task { await requests.cancelAll() }
        }
        do {
            try await channel.executeThenClose { inbound, outbound in
                let writer = LineWriter(outbound: outbound, allocator: channel.channel.allocator, eventLoop: channel.channel.eventLoop)
                do {
                    for try await frame in inbound {
                        guard try await handle(frame, requests: requests, writer: writer) else { break }
                    }
                } catch {
                    logger.debug("connection read failed", metadata: ["error": "\(error)"])
                    await requests.cancelAll()
                }
                // The client stopped sending; let what it asked for finish before closing.
                await requests.waitForAll()
            }
        } catch {
            logger.debug("connection closed with error", metadata: ["error": "\(error)"])
        }
        await requests.cancelAll()
        await requests.waitForAll()
        await lifecycle.closed(requests)
        await statistics.connectionClosed()
    }

    /// One error line for a peer that is not the daemon's user, then close; nothing else is read.
    private func refuse(_ channel: NIOAsyncChannel<LineFrame, ByteBuffer>, peer: uid_t) async {
        logger.warning("refused a connection from another user", metadata: ["peer_uid": "\(peer)"])
        try? await channel.executeThenClose { inbound, outbound in
            let writer = LineWriter(outbound: outbound, allocator: channel.channel.allocator, eventLoop: channel.channel.eventLoop)
            try await writer.send(.response(id: nil, result: .failure(RPCError(
                .accessDenied,
                "access denied: this gigachatd serves only uid \(getuid()); you are uid \(peer)"
            ))))
            // Read (and drop) what the peer already sent for a moment: closing with unread input would
            // reset the connection, and the peer might lose the refusal before reading it.
            await withTaskGroup(of: Void.self) { group in
                group.addTask { _ = try? await inbound.first(where: { _ in false }) }
                group.addTask { try? await Task.sleep(for: .milliseconds(250)) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Handles one frame; false when the connection must close.
    private func handle(_ frame: LineFrame, requests: ConnectionRequests, writer: LineWriter) async throws -> Bool {
        switch frame {
        case .tooLong:
            let limit = await dispatcher.upstream.configuration.maxLineBytes
            try await writer.send(.response(id: nil, result: .failure(RPCError(
                .lineTooLong,
                "request line longer than \(limit) bytes (GIGACHATD_MAX_LINE_BYTES); closing the connection",
                data: ["max_line_bytes": .int(Int64(limit))]
            ))))
            return false
        case .line(let buffer):
            let bytes = buffer.readableBytesView
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return true }  // blank line
            switch RPCRequest.decode(line: bytes) {
            case .failure(let failure):
                try await writer.send(.response(id: failure.id, result: .failure(failure.error)))
            case .success(let request):
                try await start(request, requests: requests, writer: writer)
            }
            return true
        }
    }

    private func start(_ request: RPCRequest, requests: ConnectionRequests, writer: LineWriter) async throws {
        if !(await lifecycle.acceptsRequests), request.method != RPCMethod.status {
            if let id = request.id {
                try await writer.send(.response(id: id, result: .failure(RPCError(.shuttingDown, "gigachatd is shutting down and takes no new requests"))))
            }
            return
        }
        let executor = EventLoopExecutor(writer.eventLoop)
        let started = await requests.start(request.id) {
            await withTaskExecutorPreference(executor) {
                await run(request, requests: requests, writer: writer)
            }
        }
        if !started, let id = request.id {
            try await writer.send(.response(id: id, result: .failure(RPCError(
                .invalidRequest,
                "Invalid request: id \(id) is already used by a request still running on this connection"
            ))))
        }
    }

    private func run(_ request: RPCRequest, requests: ConnectionRequests, writer: LineWriter) async {
        var requestLogger = logger
        requestLogger[metadataKey: "method"] = "\(request.method)"
        if let id = request.id { requestLogger[metadataKey: "request_id"] = "\(id)" }
        let context = RequestContext(
            id: request.id,
            method: request.method,
            connection: requests,
            logger: requestLogger,
            notify: { messages in try await writer.send(messages) }
        )
        let clock = ContinuousClock()
        let started = clock.now
        var result = await dispatcher.handle(request, context: context)
        if case .failure(let error) = result, await lifecycle.endingRemainingRequests {
            // Ended by the drain, not by its client: say so, and keep what was streamed (data.partial).
            result = .failure(RPCError(.shuttingDown, "gigachatd shut down before the request finished (GIGACHATD_DRAIN_TIMEOUT)", data: error.data))
        }
        let elapsed = clock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        var upstreamError: String?
        switch result {
        case .success:
            requestLogger.debug("request done", metadata: ["duration_ms": "\(milliseconds)"])
        case .failure(let error):
            if (RPCErrorCode.upstreamProtocol.rawValue...RPCErrorCode.upstreamAuth.rawValue).contains(error.code.rawValue) { upstreamError = error.message }
            var metadata: Logger.Metadata = ["duration_ms": "\(milliseconds)", "error_code": "\(error.code.rawValue)", "error": "\(error.message)"]
            if let status = error.data?["status"]?.intValue { metadata["upstream_status"] = "\(status)" }
            requestLogger.info("request failed", metadata: metadata)
        }
        if let id = request.id {
            do {
                // Also when the request was cancelled (`cancel`, or the end of a drain): NIO's writer refuses
                // writes from a cancelled task, and a new task does not inherit the cancellation.
                let response = RPCMessage.response(id: id, result: result)
                try await Task { try await writer.send(response) }.value
            } catch {
                requestLogger.debug("client left before its response could be written")
            }
        }
        await statistics.requestFinished(upstreamError: upstreamError)
    }
}
