import GigaChatAPI
import GigaChatProtocol
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The OpenAI-compatible HTTP/1.1 front end: the same upstream client, queue, token and limits as the
/// JSON-RPC socket, in the wire format the `openai` package, LangChain and most tools speak, plus GigaChat's
/// own REST paths forwarded.
///
/// The daemon binds the listeners (it owns the socket directory rules), runs `serve` for each, and drains
/// with `beginDrain` / `runningRequests` / `endAll` beside its JSON-RPC connections.
public final class OpenAIServer: Sendable {
    public enum Transport: Sendable, Equatable {
        /// The HTTP Unix socket: only the daemon's user (checked per connection) and root; no key.
        case unixSocket
        /// Loopback TCP: anyone local can connect, so every request must carry the local key.
        case tcp
    }

    /// What the peer check says about a Unix socket connection.
    public enum PeerVerdict: Sendable, Equatable {
        /// The daemon's own user (or root), with its pid for the usage ledger.
        case allowed(pid: Int32)
        /// The peer left before it could be asked.
        case gone
        case refused(uid: UInt32)
    }

    public typealias HTTPChannel = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// A bound listening socket, ready for `serve`.
    public struct Listener: Sendable {
        let channel: NIOAsyncChannel<HTTPChannel, Never>
        public let transport: Transport
        /// Where clients connect, for messages.
        public let address: String

        /// Stops accepting; connections already open are left to the drain.
        public func close() async {
            try? await channel.channel.close()
        }
    }

    private let settingsBox: NIOLockedValueBox<OpenAISettings>
    private let key: LocalKey?
    private let client: @Sendable () async -> GigaChatClient
    private let limits: @Sendable () -> OpenAISettings.Limits
    private let peerCheck: @Sendable (any Channel) async -> PeerVerdict
    private let requestFinished: @Sendable (RequestSummary) async -> Void
    private let logger: Logger
    private let registry = Registry()
    private let services = Services()
    private let nextOwner = NIOLockedValueBox<UInt64>(0)

    /// - Parameters:
    ///   - key: the local key TCP requests must carry; nil when there is no TCP listener.
    ///   - client: the current API client (it changes on reload).
    ///   - limits: the daemon's current limits (they change on reload).
    ///   - peerCheck: who is on the other end of a Unix socket connection (SO_PEERCRED), decided as the
    ///     JSON-RPC socket decides it.
    ///   - requestFinished: told about each answered request (for `status` and the usage ledger).
    public init(
        settings: OpenAISettings,
        key: LocalKey?,
        client: @escaping @Sendable () async -> GigaChatClient,
        limits: @escaping @Sendable () -> OpenAISettings.Limits,
        peerCheck: @escaping @Sendable (any Channel) async -> PeerVerdict,
        requestFinished: @escaping @Sendable (RequestSummary) async -> Void,
        logger: Logger
    ) {
        settingsBox = NIOLockedValueBox(settings)
        self.key = key
        self.client = client
        self.limits = limits
        self.peerCheck = peerCheck
        self.requestFinished = requestFinished
        self.logger = logger
    }

    public var settings: OpenAISettings { settingsBox.withLockedValue { $0 } }

    /// Takes new settings on reload. The listeners stay as they were bound; aliases change at once.
    public func update(_ settings: OpenAISettings) {
        settingsBox.withLockedValue { $0.modelAliases = settings.modelAliases }
    }

    // MARK: Listening

    private func bootstrap(_ group: any EventLoopGroup) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
    }

    private static let initializer: @Sendable (any Channel) -> EventLoopFuture<HTTPChannel> = { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
            return try HTTPChannel(wrappingChannelSynchronously: channel)
        }
    }

    /// Listens on a Unix socket path. The caller has prepared the directory and removed a stale socket.
    public func bind(unixSocketPath path: String, group: any EventLoopGroup) async throws -> Listener {
        let channel = try await bootstrap(group).bind(unixDomainSocketPath: path, childChannelInitializer: Self.initializer)
        return Listener(channel: channel, transport: .unixSocket, address: path)
    }

    /// Serves on a listening Unix socket systemd passed.
    public func bind(descriptor: CInt, address: String, group: any EventLoopGroup) async throws -> Listener {
        let channel = try await bootstrap(group).bind(descriptor, childChannelInitializer: Self.initializer)
        return Listener(channel: channel, transport: .unixSocket, address: address)
    }

    /// Listens on loopback TCP; requests there must carry the local key.
    public func bind(tcp address: OpenAISettings.TCPAddress, group: any EventLoopGroup) async throws -> Listener {
        let channel = try await bootstrap(group)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .bind(host: address.host, port: address.port, childChannelInitializer: Self.initializer)
        return Listener(channel: channel, transport: .tcp, address: "http://\(address)")
    }

    /// Accepts connections until the listener closes, then waits for the connections it accepted.
    public func serve(_ listener: Listener) async throws {
        try await listener.channel.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in inbound {
                    group.addTask { await self.serveConnection(connection, transport: listener.transport) }
                }
            }
        }
    }

    // MARK: Drain

    /// No new requests; idle keep-alive connections close now, busy ones after their response.
    public func beginDrain() async {
        await registry.beginDrain()
    }

    /// Returns once no request is running, or once `endAll` ended them.
    public func waitUntilIdle() async {
        await registry.waitUntilIdle()
    }

    /// Ends what still runs (503 where no answer began) and closes every connection.
    public func endAll() async {
        await registry.endAll()
    }

    // MARK: Connections

    private func serveConnection(_ connection: HTTPChannel, transport: Transport) async {
        var peerPID: Int32?
        if transport == .unixSocket {
            switch await peerCheck(connection.channel) {
            case .allowed(let pid):
                peerPID = pid
            case .gone:
                try? await connection.channel.close()
                return
            case .refused(let uid):
                await refuse(connection, uid: uid)
                return
            }
        }
        guard let entry = await registry.opened(connection.channel) else {
            try? await connection.channel.close()
            return
        }
        // A client that hangs up ends what it asked for, which aborts the upstream transfer.
        connection.channel.closeFuture.whenComplete { _ in entry.current.end(.clientLeft) }
        let owner = nextOwner.withLockedValue { value -> UInt64 in
            value &+= 1
            // Apart from the JSON-RPC side's owners (object addresses): the top bit is never set there.
            return value | (1 << 63)
        }
        let progress = WriteProgress()
        let stallSeconds = limits().clientStallTimeoutSeconds
        let stallLimit = TimeAmount.milliseconds(Durations.milliseconds(Durations.from(seconds: stallSeconds)))
        let period = TimeAmount.milliseconds(max(100, Durations.milliseconds(Durations.from(seconds: stallSeconds / 4))))
        // A client that stops reading would hold its upstream transfer, paused by backpressure where no
        // upstream timeout fires, and with a personal key the only slot.
        let stallCheck = connection.channel.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            if progress.stalled(longerThan: stallLimit) { entry.current.end(.clientStall) }
        }
        defer { stallCheck.cancel() }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                var limit = 0
                var pendingLimit = 0
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        body = []
                        let limits = self.limits()
                        limit = requestHead.uri.hasPrefix("/api/v1/files") ? GigaChatForward.maxUploadBytes : limits.maxLineBytes
                        pendingLimit = limits.maxPendingBytes
                        if let declared = requestHead.headers.first(name: "Content-Length").flatMap({ Int($0) }), declared > limit {
                            await tooLarge(requestHead, limit: limit, outbound: outbound, allocator: connection.channel.allocator)
                            return
                        }
                        if requestHead.headers.first(name: "Expect")?.lowercased() == "100-continue" {
                            try await outbound.write(.head(HTTPResponseHead(version: requestHead.version, status: .continue)))
                        }
                    case .body(let buffer):
                        guard let requestHead = head else { continue }
                        guard buffer.readableBytes <= limit - body.count else {
                            await tooLarge(requestHead, limit: limit, outbound: outbound, allocator: connection.channel.allocator)
                            return
                        }
                        guard await registry.hold(entry, buffer.readableBytes, limit: pendingLimit) else {
                            await tooMuchPending(requestHead, limit: pendingLimit, outbound: outbound, allocator: connection.channel.allocator)
                            return
                        }
                        body.append(contentsOf: buffer.readableBytesView)
                    case .end:
                        guard let requestHead = head else { continue }
                        head = nil
                        let request = IncomingRequest(head: requestHead, body: body)
                        body = []
                        let keepOpen = await handle(
                            request, entry: entry, outbound: outbound, allocator: connection.channel.allocator, transport: transport,
                            owner: owner, progress: progress, peerPID: peerPID
                        )
                        guard keepOpen else { return }
                    }
                }
            }
        } catch {
            logger.debug("HTTP connection closed with error", metadata: ["error": "\(error)"])
        }
        await registry.closed(entry)
    }

    /// Answers a request refused before its body was read (too large, or more than the daemon may hold),
    /// then the connection closes.
    private func refuseEarly(
        _ head: HTTPRequestHead, _ error: OpenAIError, headers: [(String, String)] = [],
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, allocator: ByteBufferAllocator
    ) async {
        let response = ResponseWriter(
            outbound: outbound, allocator: allocator, version: head.version, keepAlive: false, requestID: "req_" + RandomID.make(count: 24),
            progress: WriteProgress()
        )
        try? await response.sendJSON(error.status, error.json, headers: headers)
    }

    private func tooLarge(
        _ head: HTTPRequestHead, limit: Int, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, allocator: ByteBufferAllocator
    ) async {
        let error = OpenAIError(
            .payloadTooLarge, "the request body is larger than \(limit) bytes (GIGACHATD_MAX_LINE_BYTES)", code: "request_too_large"
        )
        await refuseEarly(head, error, outbound: outbound, allocator: allocator)
    }

    private func tooMuchPending(
        _ head: HTTPRequestHead, limit: Int, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, allocator: ByteBufferAllocator
    ) async {
        let error = OpenAIError(
            .tooManyRequests,
            "the requests gigachatd holds would pass its limit of \(limit) bytes (GIGACHATD_MAX_PENDING_BYTES); try again later",
            type: "rate_limit_error", code: "too_many_requests", retryAfter: 1
        )
        await refuseEarly(head, error, headers: [("Retry-After", "1")], outbound: outbound, allocator: allocator)
    }

    /// Answers one request; false when the connection must close after it.
    private func handle(
        _ request: IncomingRequest, entry: Registry.Entry, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        allocator: ByteBufferAllocator, transport: Transport, owner: UInt64, progress: WriteProgress, peerPID: Int32?
    ) async -> Bool {
        let client = await self.client()
        let limits = self.limits()
        let requestID = "req_" + RandomID.make(count: 24)
        let refusal = await registry.begin(entry, limit: limits.maxRequests)
        let keepAlive = request.keepAlive && refusal != .draining
        let response = ResponseWriter(
            outbound: outbound, allocator: allocator, version: request.version, keepAlive: keepAlive, requestID: requestID, progress: progress
        )
        var requestLogger = logger
        requestLogger[metadataKey: "http_request_id"] = "\(requestID)"
        requestLogger[metadataKey: "http"] = "\(request.method.rawValue) \(ControlCharacters.escaped(request.path))"
        let gigaChatShape = request.path.hasPrefix("/api/")
        if let refusal {
            await registry.release(entry)
            let error: OpenAIError
            switch refusal {
            case .draining:
                error = OpenAIError(.serviceUnavailable, "gigachatd is shutting down and takes no new requests", type: "server_error", code: "shutting_down")
            case .tooMany:
                error = OpenAIError(
                    .tooManyRequests,
                    "gigachatd already has \(limits.maxRequests) requests running or queued, its limit (GIGACHATD_MAX_REQUESTS); try again later",
                    type: "rate_limit_error", code: "too_many_requests", retryAfter: 1
                )
            }
            let body: JSONValue = gigaChatShape ? ["status": .int(Int64(error.status.code)), "message": .string(error.message)] : error.json
            try? await response.sendJSON(error.status, body, headers: [("Retry-After", "1")])
            return keepAlive
        }

        let control = RequestControl()
        entry.current.set(control)
        let exchange = Exchange(
            request: request, response: response, control: control, client: client, settings: settings, limits: limits, services: services,
            logger: requestLogger
        )
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = Durations.milliseconds(Durations.from(seconds: limits.requestTimeoutSeconds))
        let timer = entry.channel.eventLoop.scheduleTask(in: .milliseconds(deadline)) { control.end(.deadline) }
        let key = self.key
        let startedAtMilliseconds = TokenManager.nowMilliseconds()
        let scope = RequestScope(owner: owner, logger: requestLogger)
        let task = Task {
            await RequestScope.run(scope) {
                await Router.handle(exchange, transport: transport, key: key)
            }
        }
        control.attach { task.cancel() }
        let failure = await task.value
        timer.cancel()
        entry.current.set(nil)

        let milliseconds = Durations.milliseconds(clock.now - started)
        var upstreamError: String?
        if let failure {
            var metadata: Logger.Metadata = [
                "duration_ms": "\(milliseconds)", "status": "\(failure.status.code)", "error": "\(ControlCharacters.escaped(failure.message))",
            ]
            if let ending = control.ending { metadata["ended_by"] = "\(ending)" }
            requestLogger.info("HTTP request failed", metadata: metadata)
            if failure.status.code >= 500 || failure.status == .tooManyRequests || failure.status == .paymentRequired {
                upstreamError = failure.message
            }
        } else {
            requestLogger.debug("HTTP request done", metadata: ["duration_ms": "\(milliseconds)"])
        }
        let stillServing = await registry.end(entry)
        await requestFinished(
            RequestSummary(
                route: "\(request.method.rawValue) \(request.path.split(separator: "?", maxSplits: 1).first ?? "")",
                passthrough: gigaChatShape,
                startedAtMilliseconds: startedAtMilliseconds,
                metrics: scope.metrics.values,
                failureStatus: failure.map { Int($0.status.code) },
                upstreamError: upstreamError,
                endedEarly: control.ending != nil,
                peerPID: peerPID
            ))
        return stillServing && keepAlive && !response.mustClose && control.ending == nil
    }

    /// One 403 for a peer that is not the daemon's user, then close.
    private func refuse(_ connection: HTTPChannel, uid: UInt32) async {
        logger.warning("refused an HTTP connection from another user", metadata: ["peer_uid": "\(uid)"])
        try? await connection.executeThenClose { inbound, outbound in
            // Read the request head first: an HTTP client expects its answer after asking.
            let head: HTTPRequestHead? = await withTaskGroup(of: HTTPRequestHead?.self) { group in
                group.addTask {
                    do {
                        for try await part in inbound { if case .head(let head) = part { return head } }
                    } catch {}
                    return nil
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(2))
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            let error = OpenAIError(
                .forbidden, "access denied: this gigachatd serves only uid \(getuid()); you are uid \(uid)", type: "permission_error",
                code: "access_denied"
            )
            let response = ResponseWriter(
                outbound: outbound, allocator: connection.channel.allocator, version: head?.version ?? .http1_1, keepAlive: false,
                requestID: "req_" + RandomID.make(count: 24), progress: WriteProgress()
            )
            try? await response.sendJSON(error.status, error.json)
        }
    }
}
