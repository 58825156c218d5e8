import Dispatch
import Foundation
import GigaChatAPI
import GigaChatProtocol
import Logging
import NIOCore
import NIOPosix

/// gigachatd: binds (or adopts) the socket, serves connections, keeps the token fresh, reloads on SIGHUP
/// and drains on SIGTERM.
public final class Daemon: Sendable {
    private let sources: Configuration.Sources
    private let initialConfiguration: Configuration
    private let logger: Logger
    private let notifier = SystemdNotifier()

    public init(configuration: Configuration, sources: Configuration.Sources, logger: Logger) {
        self.initialConfiguration = configuration
        self.sources = sources
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT has been handled; returns normally after a graceful drain.
    public func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let configuration = initialConfiguration
        let upstream = try UpstreamService(configuration: configuration, logger: logger)
        let statistics = DaemonStatistics()
        let lifecycle = Lifecycle()
        let dispatcher = Dispatcher(upstream: upstream, statistics: statistics, lifecycle: lifecycle)
        let connection = Connection(dispatcher: dispatcher, statistics: statistics, lifecycle: lifecycle, logger: logger)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await bind(configuration: configuration, group: group)
        let serverChannel = listener.channel
        await lifecycle.set(.running)
        notifier.ready(status: "serving on \(configuration.socket.path); fetching token")
        logger.notice(
            "gigachatd ready",
            metadata: ["socket": "\(configuration.socket.path)", "activated": "\(listener.activated)", "base_url": "\(configuration.baseURL)"]
        )
        await upstream.start()

        let signals = SignalHandlers()
        signals.install { [self] signal in
            Task {
                switch signal {
                case SIGHUP:
                    await self.reload(upstream: upstream, lifecycle: lifecycle)
                default:
                    await self.drain(serverChannel: serverChannel.channel, lifecycle: lifecycle, statistics: statistics)
                }
            }
        }

        let background = Task {
            await self.watchdogAndStatus(upstream: upstream, statistics: statistics, lifecycle: lifecycle)
        }

        await withDiscardingTaskGroup { group in
            do {
                try await serverChannel.executeThenClose { inbound in
                    for try await client in inbound {
                        group.addTask { await connection.serve(client) }
                    }
                }
            } catch {
                logger.error("accepting connections failed", metadata: ["error": "\(error)"])
            }
        }
        background.cancel()
        signals.cancel()
        if let created = listener.createdPath { Self.removeSocket(created) }
        await upstream.shutdown()
        try? await group.shutdownGracefully()
        logger.notice("gigachatd stopped")
    }

    // MARK: Socket

    private struct Listener {
        let channel: NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>
        let activated: Bool
        /// The socket file we created (and so may remove), with its inode.
        let createdPath: (path: String, inode: UInt64)?
    }

    private func bind(configuration: Configuration, group: MultiThreadedEventLoopGroup) async throws -> Listener {
        let maxLineBytes = configuration.maxLineBytes
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<LineFrame, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLineBytes: maxLineBytes)))
                return try NIOAsyncChannel<LineFrame, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        if let descriptor = try SocketActivation.listeningSocket() {
            let channel = try await bootstrap.bind(descriptor, childChannelInitializer: initializer)
            return Listener(channel: channel, activated: true, createdPath: nil)
        }
        let path = configuration.socket.path
        try SocketDirectory.prepare(configuration.socket)
        try SocketDirectory.clearStale(path)
        // Created 0600 from the start: no window in which another user could connect.
        let previousMask = umask(0o177)
        defer { umask(previousMask) }
        let channel: NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>
        do {
            channel = try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: initializer)
        } catch {
            throw SocketSetupError(message: "cannot listen on \(path): \(error)")
        }
        var info = stat()
        let inode = lstat(path, &info) == 0 ? UInt64(info.st_ino) : 0
        return Listener(channel: channel, activated: false, createdPath: (path, inode))
    }

    /// Removes the socket we created, unless another process has replaced it since.
    private static func removeSocket(_ created: (path: String, inode: UInt64)) {
        var info = stat()
        guard lstat(created.path, &info) == 0, UInt64(info.st_ino) == created.inode else { return }
        unlink(created.path)
    }

    // MARK: Signals

    private func reload(upstream: UpstreamService, lifecycle: Lifecycle) async {
        notifier.reloading()
        await lifecycle.set(.reloading)
        logger.notice("reloading configuration")
        do {
            let configuration = try Configuration.load(sources)
            if configuration.socket.path != initialConfiguration.socket.path {
                logger.warning("the socket path cannot change on reload; restart gigachatd to move it")
            }
            try await upstream.reload(configuration)
            logger.notice("configuration reloaded")
        } catch {
            logger.error("reload failed; keeping the previous configuration", metadata: ["error": "\(error)"])
        }
        await lifecycle.set(.running)
        notifier.send("READY=1")
    }

    private func drain(serverChannel: any Channel, lifecycle: Lifecycle, statistics: DaemonStatistics) async {
        guard await lifecycle.acceptsRequests else { return }
        await lifecycle.set(.draining)
        let timeout = initialConfiguration.drainTimeoutSeconds
        let running = await lifecycle.runningRequests()
        notifier.stopping(status: "draining \(running) request(s)")
        logger.notice("shutting down: refusing new requests, draining", metadata: ["running": "\(running)", "timeout_s": "\(timeout)"])
        try? await serverChannel.close()
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while await lifecycle.runningRequests() > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = await lifecycle.runningRequests()
        if left > 0 {
            logger.warning("drain timeout reached; ending the remaining requests with an error", metadata: ["running": "\(left)"])
        }
        await lifecycle.cancelAndCloseAll()
    }

    // MARK: Watchdog and status

    private func watchdogAndStatus(upstream: UpstreamService, statistics: DaemonStatistics, lifecycle: Lifecycle) async {
        let watchdog = notifier.watchdogInterval
        let period: Duration = watchdog.map { $0 / 2 } ?? .seconds(5)
        var lastStatus = ""
        while !Task.isCancelled {
            // The ping proves the actors answer, not merely that a timer thread runs.
            let status = await statusLine(upstream: upstream, statistics: statistics, lifecycle: lifecycle)
            if watchdog != nil { notifier.watchdog() }
            if status != lastStatus {
                notifier.status(status)
                lastStatus = status
            }
            try? await Task.sleep(for: min(period, .seconds(5)))
        }
    }

    private func statusLine(upstream: UpstreamService, statistics: DaemonStatistics, lifecycle: Lifecycle) async -> String {
        let client = await upstream.client
        let validUntil = await client.tokens.validUntilMilliseconds
        let tokenError = await client.tokens.lastError
        let inFlight = await upstream.limiter.inFlight
        let queued = await upstream.limiter.queued
        let served = await statistics.served
        var parts: [String] = []
        switch validUntil {
        case nil: parts.append(tokenError == nil ? "no token yet" : "no token")
        case 0?: parts.append("pre-issued token")
        case let milliseconds?: parts.append("token valid until \(StatusMethod.iso8601(milliseconds: milliseconds))")
        }
        parts.append("\(inFlight) in flight, \(queued) queued, \(served) served")
        if let error = await statistics.lastUpstreamError ?? tokenError { parts.append("last upstream error: \(error)") }
        if await lifecycle.state == .draining { parts.insert("draining", at: 0) }
        return parts.joined(separator: "; ")
    }
}

/// SIGTERM, SIGINT and SIGHUP delivered on a dispatch queue instead of in a signal handler.
///
/// `@unchecked Sendable`: `sources` never changes after init, and dispatch sources are thread-safe.
private final class SignalHandlers: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init() {
        let queue = DispatchQueue(label: "gigachatd.signals")
        sources = [SIGTERM, SIGINT, SIGHUP].map { number in
            // Ignored as signals so that only the dispatch source sees them.
            signal(number, SIG_IGN)
            return DispatchSource.makeSignalSource(signal: number, queue: queue)
        }
    }

    func install(_ handler: @escaping @Sendable (Int32) -> Void) {
        for source in sources {
            let number = Int32(source.handle)
            source.setEventHandler { handler(number) }
            source.resume()
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
