import GigaChatAPI
import GigaChatProtocol
import Glibc
import Logging
import NIOCore
import UsageLedger

/// One client connection: reads request lines, runs each request concurrently, and writes exactly one
/// final response per request id, also when the request fails or is cancelled.
struct Connection: Sendable {
    let dispatcher: Dispatcher
    let settings: CurrentSettings
    let statistics: DaemonStatistics
    let lifecycle: Lifecycle
    let admission: RequestAdmission
    let usage: UsageAccounting
    let logger: Logger

    /// The largest `deadline_ms` a request may ask for (a day); GIGACHATD_REQUEST_TIMEOUT still applies.
    static let maxDeadlineMilliseconds: Int64 = 86_400_000

    func serve(_ channel: NIOAsyncChannel<LineFrame, ByteBuffer>) async {
        guard var peer = await PeerCredentials.of(channel.channel) else {
            // Gone before we could ask who it was (a readiness probe, a client that connects and
            // closes): nothing to refuse, nothing to log as an intrusion.
            logger.debug("connection closed before its peer credentials could be read")
            try? await channel.channel.close()
            return
        }
        guard PeerCredentials.isAllowed(peer.uid) else {
            await refuse(channel, peer: peer.uid)
            return
        }
        // Three small /proc reads, once per connection, so every request's ledger row names its client.
        peer.client = ClientIdentity.of(pid: peer.pid)
        let requests = ConnectionRequests()
        await statistics.connectionOpened()
        await lifecycle.opened(channel.channel, requests: requests)
        // A client that hangs up fully (not a half-close, as `socat` does after sending) closes the
        // channel: whatever it still had running is cancelled, which aborts the upstream transfers.
        channel.channel.closeFuture.whenComplete { _ in
            Task { await requests.cancelAll() }
        }
        let stallSeconds = settings.value.clientStallTimeoutSeconds
        do {
            try await channel.executeThenClose { inbound, outbound in
                let writer = LineWriter(outbound: outbound, allocator: channel.channel.allocator, eventLoop: channel.channel.eventLoop)
                let stallCheck = Self.watchForStall(writer, requests: requests, seconds: stallSeconds, logger: logger)
                defer { stallCheck.cancel() }
                do {
                    for try await frame in inbound {
                        guard try await handle(frame, peer: peer, requests: requests, writer: writer) else { break }
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
            try await writer.send(
                .response(
                    id: nil,
                    result: .failure(
                        RPCError(
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

    /// A client that reads nothing while the daemon has lines for it would hold its upstream transfer —
    /// paused by backpressure, so no upstream timeout fires — and with a personal key the only slot, for
    /// ever. Checked a few times per stall period on the connection's loop; no cost per chunk beyond two
    /// uncontended locks in the writer.
    private static func watchForStall(_ writer: LineWriter, requests: ConnectionRequests, seconds: Double, logger: Logger) -> RepeatedTask {
        let limit = TimeAmount.milliseconds(Durations.milliseconds(Durations.from(seconds: seconds)))
        let period = TimeAmount.milliseconds(max(100, Durations.milliseconds(Durations.from(seconds: seconds / 4))))
        let progress = writer.progress
        return writer.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            guard progress.stalled(longerThan: limit) else { return }
            Task {
                if await requests.count > 0 {
                    logger.notice("client stopped reading; ending its requests", metadata: ["stall_timeout_s": "\(seconds)"])
                }
                await requests.endAllForStall()
            }
        }
    }

    /// Handles one frame; false when the connection must close.
    private func handle(_ frame: LineFrame, peer: PeerCredentials, requests: ConnectionRequests, writer: LineWriter) async throws -> Bool {
        switch frame {
        case .tooLong(let limit):
            try await writer.send(
                .response(
                    id: nil,
                    result: .failure(
                        RPCError(
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
                try await start(request, lineBytes: bytes.count, peer: peer, requests: requests, writer: writer)
            }
            return true
        }
    }

    private func start(_ request: RPCRequest, lineBytes: Int, peer: PeerCredentials, requests: ConnectionRequests, writer: LineWriter) async throws {
        func refuse(_ error: RPCError) async throws {
            guard let id = request.id else { return }
            try await writer.send(.response(id: id, result: .failure(error)))
        }
        if !(await lifecycle.acceptsRequests), request.method != RPCMethod.status {
            return try await refuse(RPCError(.shuttingDown, "gigachatd is shutting down and takes no new requests"))
        }
        let configuration = settings.value
        var deadline = Durations.from(seconds: configuration.requestTimeoutSeconds)
        switch request.params["deadline_ms"] {
        case nil, .null?:
            break
        case let value?:
            guard let milliseconds = value.intValue, (1...Self.maxDeadlineMilliseconds).contains(milliseconds) else {
                return try await refuse(Params.invalid("\"deadline_ms\" must be a whole number of milliseconds from 1 to \(Self.maxDeadlineMilliseconds)"))
            }
            deadline = min(deadline, .milliseconds(milliseconds))
        }
        let priority: Priority
        do throws(RPCError) {
            priority = try Priority.parse(request.params["priority"])
        } catch {
            return try await refuse(error)
        }
        if let refusal = await admission.admit(lineBytes: lineBytes, maxRequests: configuration.maxRequests, maxBytes: configuration.maxPendingBytes) {
            return try await refuse(refusal)
        }
        let executor = EventLoopExecutor(writer.eventLoop)
        let requestDeadline = deadline
        // The params go to the method alone; the request itself keeps only method and id.
        let params = RequestParams(request.params)
        var header = request
        header.params = [:]
        let started = await requests.start(request.id, limit: configuration.maxRequestsPerConnection) { [header] key in
            await withTaskExecutorPreference(executor) {
                await run(
                    header, params: params, priority: priority, key: key, deadline: requestDeadline, peer: peer, requests: requests, writer: writer
                )
            }
            await admission.release(lineBytes: lineBytes)
        }
        switch started {
        case .started:
            // Backpressure on the client's pipeline: one parsed request in memory at a time.
            await params.waitUntilConsumed()
        case .duplicateID:
            await admission.release(lineBytes: lineBytes)
            if let id = request.id {
                try await refuse(RPCError(.invalidRequest, "Invalid request: id \(id) is already used by a request still running on this connection"))
            }
        case .tooMany(let limit):
            await admission.release(lineBytes: lineBytes)
            try await refuse(
                RPCError(
                    .tooManyRequests,
                    "this connection already has \(limit) requests running or queued, its limit (GIGACHATD_MAX_REQUESTS_PER_CONNECTION); wait for one to finish",
                    data: ["limit": .int(Int64(limit)), "setting": "GIGACHATD_MAX_REQUESTS_PER_CONNECTION"]
                ))
        }
    }

    private func run(
        _ request: RPCRequest, params: RequestParams, priority: Priority, key: UInt64, deadline: Duration, peer: PeerCredentials, requests: ConnectionRequests,
        writer: LineWriter
    ) async {
        var requestLogger = logger
        requestLogger[metadataKey: "method"] = "\(request.method)"
        if let id = request.id { requestLogger[metadataKey: "request_id"] = "\(id)" }
        let context = RequestContext(
            id: request.id,
            peer: peer,
            connection: requests,
            notify: { messages in try await writer.send(messages) }
        )
        let clock = ContinuousClock()
        let started = clock.now
        let startedAtMilliseconds = TokenManager.nowMilliseconds()
        let metrics = RequestMetrics()
        let timer = writer.eventLoop.scheduleTask(in: .milliseconds(Durations.milliseconds(deadline))) {
            Task { await requests.end(key, .deadline) }
        }
        // Upstream slots are shared round robin between connections: this request waits its connection's turn.
        let owner = UInt64(UInt(bitPattern: ObjectIdentifier(requests).hashValue))
        // A request that must wait for its turn says so at once: the client then knows the daemon is alive.
        var onQueued: (@Sendable (Int) async -> Void)?
        if let id = request.id {
            onQueued = { @Sendable ahead in
                let params: JSONObject = ["id": id.json, "ahead": .int(Int64(ahead))]
                try? await writer.send(.notification(method: RPCMethod.requestQueued, params: params))
            }
        }
        var result: Result<JSONValue, RPCError>
        if let refusal = await usage.refusal(for: request.method, client: peer.client) {
            params.markConsumed()
            result = .failure(refusal)
        } else {
            let scope = RequestScope(owner: owner, priority: priority, onQueued: onQueued, metrics: metrics, logger: requestLogger)
            result = await RequestScope.run(scope) {
                await dispatcher.handle(request, params: params, context: context)
            }
        }
        params.markConsumed()
        timer.cancel()
        if let ending = await requests.finish(key) {
            result = Self.result(result, endedBy: ending, deadline: deadline, configuration: settings.value)
        } else if case .failure(let error) = result, await lifecycle.endingRemainingRequests {
            // Ended by the drain, not by its client: say so, and keep what was streamed (data.partial).
            result = .failure(RPCError(.shuttingDown, "gigachatd shut down before the request finished (GIGACHATD_DRAIN_TIMEOUT)", data: error.data))
        }
        usage.record(method: request.method, startedAtMilliseconds: startedAtMilliseconds, metrics: metrics.values, client: peer.client, result: result)
        let milliseconds = Durations.milliseconds(clock.now - started)
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
        // `status` is how monitors look at the daemon; counting it would make "served" count the looking.
        if request.method != RPCMethod.status {
            await statistics.requestFinished(upstreamError: upstreamError)
        }
    }

    /// The final result of a request the daemon ended early. What was already produced is kept in
    /// data.result (data.partial when it is incomplete), so a billed reply is never thrown away.
    static func result(
        _ result: Result<JSONValue, RPCError>,
        endedBy ending: ConnectionRequests.Ending,
        deadline: Duration,
        configuration: DaemonSettings
    ) -> Result<JSONValue, RPCError> {
        var data = JSONObject()
        switch result {
        case .success(let value):
            // Finished after all: only a `cancel` that already answered true overrides a success.
            guard ending == .cancelled else { return result }
            data["result"] = value
        case .failure(let error):
            if error.data?["partial"]?.boolValue == true, let partial = error.data?["result"] {
                data["partial"] = true
                data["result"] = partial
            }
        }
        switch ending {
        case .cancelled:
            return .failure(RPCError(.requestCancelled, "request cancelled", data: data.isEmpty ? nil : .object(data)))
        case .deadline:
            data["reason"] = "deadline"
            let seconds = Double(Durations.milliseconds(deadline)) / 1000
            return .failure(
                RPCError(
                    .requestTimeout,
                    "the request did not finish within its deadline of \(Durations.text(seconds: seconds)) (GIGACHATD_REQUEST_TIMEOUT, or its deadline_ms)",
                    data: .object(data)
                ))
        case .clientStall:
            data["reason"] = "client_stall"
            return .failure(
                RPCError(
                    .requestTimeout,
                    "the client read nothing for \(Durations.text(seconds: configuration.clientStallTimeoutSeconds)) (GIGACHATD_CLIENT_STALL_TIMEOUT); request ended",
                    data: .object(data)
                ))
        }
    }
}
