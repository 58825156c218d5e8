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
                let writer = LineWriter(outbound: outbound, allocator: channel.channel.allocator)
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
        let started = await requests.start(request.id) {
            await run(request, requests: requests, writer: writer)
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
            notify: { message in try await writer.send(message) }
        )
        let clock = ContinuousClock()
        let started = clock.now
        await statistics.requestStarted()
        let result = await dispatcher.handle(request, context: context)
        let elapsed = clock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        var upstreamError: String?
        switch result {
        case .success:
            requestLogger.debug("request done", metadata: ["duration_ms": "\(milliseconds)"])
        case .failure(let error):
            if error.code.rawValue > -32100, error.code.rawValue <= -32000 { upstreamError = error.message }
            var metadata: Logger.Metadata = ["duration_ms": "\(milliseconds)", "error_code": "\(error.code.rawValue)", "error": "\(error.message)"]
            if let status = error.data?["status"]?.intValue { metadata["upstream_status"] = "\(status)" }
            requestLogger.info("request failed", metadata: metadata)
        }
        if let id = request.id {
            do {
                try await writer.send(.response(id: id, result: result))
            } catch {
                requestLogger.debug("client left before its response could be written")
            }
        }
        await statistics.requestFinished(upstreamError: upstreamError)
    }
}
