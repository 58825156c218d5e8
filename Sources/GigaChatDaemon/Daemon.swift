import Dispatch
import Foundation
import GigaChatAPI
import GigaChatProtocol
import Logging
import NIOCore
import NIOPosix
import UsageLedger

/// gigachatd: binds (or adopts) the socket, serves connections, keeps the token fresh, reloads on SIGHUP
/// and drains on SIGTERM, telling systemd about each step (sd_notify).
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

    /// The parts of a running daemon that the signal and status loops work on.
    private struct Running: Sendable {
        let upstream: UpstreamService
        let statistics: DaemonStatistics
        let lifecycle: Lifecycle
        let serverChannel: any Channel
        let reloadSources: Configuration.Sources
        let http: HTTPFrontEnd
    }

    /// Runs until SIGTERM or SIGINT has been handled; returns normally after a graceful drain.
    /// Throws when the socket cannot be served.
    public func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        ConnectionSlots.raiseLimit()
        // First thing: from here on SIGTERM drains instead of killing, even during start-up.
        let signals = SignalStream()
        defer { signals.finish() }

        let configuration = initialConfiguration
        let upstream = try UpstreamService(configuration: configuration, logger: logger)
        let statistics = DaemonStatistics()
        let lifecycle = Lifecycle()
        // Two threads: file work is short (conversations, opening uploads), and one stuck disk must not
        // hold up the rest.
        let fileIOPool = NIOThreadPool(numberOfThreads: 2)
        fileIOPool.start()
        defer { fileIOPool.shutdownGracefully { _ in } }
        let usage = try UsageAccounting.open(environment: sources.environment, logger: logger)
        let dispatcher = Dispatcher(
            upstream: upstream, statistics: statistics, lifecycle: lifecycle, fileIO: FileIO(pool: fileIOPool), usage: usage,
            configuration: configuration
        )
        let connection = Connection(
            dispatcher: dispatcher, statistics: statistics, lifecycle: lifecycle, admission: RequestAdmission(), usage: usage, logger: logger
        )

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener: Listener
        do {
            listener = try await bind(configuration: configuration, group: group)
        } catch {
            await upstream.shutdown()
            try? await group.shutdownGracefully()
            throw error
        }
        // The OpenAI-compatible HTTP front end, beside the JSON-RPC socket.
        let http: HTTPFrontEnd
        do {
            http = try await HTTPFrontEnd.start(
                configuration: configuration, environment: sources.environment, upstream: upstream, statistics: statistics, usage: usage,
                group: group, logger: logger
            )
        } catch {
            try? await listener.channel.channel.close()
            if let created = listener.createdPath { Self.removeSocket(created) }
            await upstream.shutdown()
            try? await group.shutdownGracefully()
            throw error
        }
        let serverChannel = listener.channel
        await lifecycle.set(.running)
        notifier.ready(status: "serving on \(listener.path); fetching a token")
        var readyMetadata: Logger.Metadata = [
            "socket": "\(listener.path)", "activated": "\(listener.activated)", "base_url": "\(configuration.baseURL)",
        ]
        if let file = configuration.configFile { readyMetadata["config_file"] = "\(file)" }
        logger.notice("gigachatd ready", metadata: readyMetadata)
        if configuration.authentication == .none, configuration.certFile == nil {
            logger.warning(
                "no credentials configured: every API request will fail until the authorization key is in ~/.config/gigachat/credentials (or GIGACHAT_CREDENTIALS) and gigachatd is reloaded"
            )
        }
        await upstream.start()

        let running = Running(
            upstream: upstream,
            statistics: statistics,
            lifecycle: lifecycle,
            serverChannel: serverChannel.channel,
            reloadSources: Self.reloadSources(sources, configFile: configuration.configFile),
            http: http
        )
        let controller = Task { await self.handleSignals(signals, running) }
        let background = Task { await self.watchdogAndStatus(running, eventLoop: group.next()) }

        // The listener closes for a drain; anything else is a failure, and the clients still connected
        // must not keep the daemon alive after it.
        let failure: String? = await withDiscardingTaskGroup { tasks in
            tasks.addTask { await http.serve(logger: self.logger) }
            var failure: String?
            do {
                try await serverChannel.executeThenClose { inbound in
                    let slots = ConnectionSlots()
                    for try await client in inbound {
                        await slots.acquire()
                        tasks.addTask {
                            await connection.serve(client)
                            await slots.release()
                        }
                    }
                }
            } catch {
                failure = "\(error)"
            }
            if await lifecycle.acceptsRequests {
                await lifecycle.set(.draining)
                await lifecycle.cancelAndCloseAll()
                await http.endAll()
                return failure ?? "the listening socket closed"
            }
            return nil
        }
        signals.finish()
        await controller.value
        background.cancel()
        await background.value
        if let created = listener.createdPath { Self.removeSocket(created) }
        http.removeSockets()
        await upstream.shutdown()
        try? await group.shutdownGracefully()
        if let failure {
            logger.error("accepting connections failed", metadata: ["error": "\(failure)"])
            throw SocketSetupError(message: "accepting connections on \(listener.path) failed: \(failure)")
        }
        // Every request has ended: its row is queued; write what is queued before exiting.
        await usage.ledger.close()
        logger.notice("gigachatd stopped")
    }

    // MARK: Socket

    private struct Listener {
        let channel: NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>
        let activated: Bool
        /// Where clients connect, for messages.
        let path: String
        /// The socket file we created (and so may remove), with its inode. nil for a socket systemd
        /// passed: its file belongs to gigachatd.socket and stays when we exit.
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
        if let passed = try SocketActivation.listeningSocket() {
            let channel: NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>
            do {
                channel = try await bootstrap.bind(passed.descriptor, childChannelInitializer: initializer)
            } catch {
                throw SocketSetupError(message: "cannot serve on the socket systemd passed (fd \(passed.descriptor), \(passed.name)): \(error)")
            }
            let path = passed.path ?? "the socket systemd passed (\(passed.name))"
            if let bound = passed.path, bound != configuration.socket.path {
                logger.info(
                    "serving on the socket systemd passed, not the configured path",
                    metadata: ["socket": "\(bound)", "configured": "\(configuration.socket.path)"]
                )
            }
            return Listener(channel: channel, activated: true, path: path, createdPath: nil)
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
        return Listener(channel: channel, activated: false, path: path, createdPath: (path, inode))
    }

    /// Removes the socket we created, unless another process has replaced it since.
    private static func removeSocket(_ created: (path: String, inode: UInt64)) {
        var info = stat()
        guard lstat(created.path, &info) == 0, UInt64(info.st_ino) == created.inode else { return }
        unlink(created.path)
    }

    // MARK: Signals

    /// Handles signals one at a time, so two quick SIGHUPs never reload concurrently and a SIGTERM waits
    /// for a reload in progress. Ends when `run` finishes the stream.
    private func handleSignals(_ signals: SignalStream, _ running: Running) async {
        var drain: Task<Void, Never>?
        for await number in signals.stream {
            switch number {
            case SIGHUP:
                if drain == nil {
                    await reload(running)
                } else {
                    logger.notice("ignoring SIGHUP: shutting down")
                }
            default:
                if drain == nil {
                    drain = Task { await self.drain(running, signal: number) }
                } else {
                    logger.notice("second stop signal: ending the remaining requests now")
                    await running.lifecycle.hurryDrain()
                }
            }
        }
        await drain?.value
    }

    private func reload(_ running: Running) async {
        notifier.reloading(status: "reloading configuration and credentials")
        await running.lifecycle.set(.reloading)
        logger.notice("reloading configuration and credentials")
        var failure: String?
        do {
            let configuration = try Configuration.loadForDaemon(running.reloadSources)
            if configuration.socket.path != initialConfiguration.socket.path {
                logger.warning("the socket path cannot change on reload; restart gigachatd to move it")
            }
            // Checked before anything changes, so a bad HTTP setting refuses the whole reload.
            let httpSettings = try running.http.settings(for: configuration, environment: running.reloadSources.environment)
            try await running.upstream.reload(configuration)
            running.http.apply(httpSettings)
            logger.notice("configuration reloaded")
        } catch let error as ConfigurationError {
            failure = error.message
        } catch {
            failure = "\(error)"
        }
        if let failure {
            logger.error("reload failed; still serving with the previous configuration", metadata: ["error": "\(failure)"])
        }
        await running.lifecycle.reloadFinished(error: failure)
        await running.lifecycle.set(.running)
        let status = await statusLine(running)
        notifier.send("READY=1\nSTATUS=\(SystemdNotifier.oneLine(status))")
    }

    /// STOPPING=1, then: no new connections or requests, running ones get up to GIGACHATD_DRAIN_TIMEOUT to
    /// finish, and what is left after that is ended with an error response.
    private func drain(_ running: Running, signal number: Int32) async {
        let lifecycle = running.lifecycle
        await lifecycle.set(.draining)
        let timeout = await running.upstream.configuration.drainTimeoutSeconds
        let count = await lifecycle.runningRequests()
        notifier.stopping(status: "shutting down: draining \(count) request(s), at most \(Self.seconds(timeout))")
        if timeout > 0 {
            // TimeoutStopSec= may be shorter than a drain someone configured; ask for what we need.
            notifier.extendTimeout(by: Durations.from(seconds: timeout) + .seconds(5))
        }
        logger.notice(
            "shutting down: refusing new requests, draining",
            metadata: ["signal": "\(Self.signalName(number))", "running": "\(count)", "timeout_s": "\(timeout)"]
        )
        try? await running.serverChannel.close()
        await running.http.beginDrain()
        let deadline = ContinuousClock.now + Durations.from(seconds: timeout)
        while await lifecycle.runningRequests() + running.http.runningRequests() > 0, ContinuousClock.now < deadline, await !lifecycle.hurry {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = await lifecycle.runningRequests()
        if left > 0 {
            logger.warning("drain ended; answering the remaining requests with an error", metadata: ["running": "\(left)"])
        }
        await lifecycle.cancelAndCloseAll()
        await running.http.endAll()
    }

    // MARK: Watchdog and status

    /// WATCHDOG=1 at half the watchdog interval and STATUS= whenever it changes. Each round asks every
    /// actor the status line reads and the event loop that serves the socket, so a ping proves those
    /// answer, not merely that a timer thread still runs.
    private func watchdogAndStatus(_ running: Running, eventLoop: any EventLoop) async {
        guard notifier.isEnabled else { return }
        let watchdog = notifier.watchdogInterval
        let period: Duration = min(watchdog.map { $0 / 2 } ?? .seconds(5), .seconds(5))
        if let watchdog {
            logger.debug("watchdog enabled", metadata: ["interval_ms": "\(Durations.milliseconds(watchdog))"])
        }
        var lastStatus = ""
        while !Task.isCancelled {
            let status = await statusLine(running)
            let loopAnswers = (try? await eventLoop.submit {}.get()) != nil
            if watchdog != nil, loopAnswers { notifier.watchdog() }
            if status != lastStatus {
                notifier.status(status)
                lastStatus = status
            }
            try? await Task.sleep(for: period)
        }
    }

    /// What `systemctl --user status gigachatd` shows: the token, the load, the last upstream error.
    private func statusLine(_ running: Running) async -> String {
        let upstream = running.upstream
        let client = await upstream.client
        let validUntil = await client.tokens.validUntilMilliseconds
        let tokenError = await client.tokens.lastError
        let inFlight = await upstream.limiter.inFlight
        let queued = await upstream.limiter.queued
        let served = await running.statistics.served
        var parts: [String] = []
        let state = await running.lifecycle.state
        if state == .draining {
            parts.append("shutting down, \(await running.lifecycle.runningRequests()) request(s) left")
        }
        switch validUntil {
        case nil: parts.append(tokenError == nil ? "fetching a token" : "no token")
        case 0?: parts.append("pre-issued token")
        case let milliseconds?: parts.append("token valid until \(Timestamps.iso8601(milliseconds: milliseconds))")
        }
        parts.append("\(inFlight) in flight, \(queued) queued, \(served) served")
        if let balance = await upstream.balance.summary { parts.append(balance) }
        if let tokenError { parts.append("token error: \(tokenError)") }
        // A failed token fetch also fails the requests that wait for it: say it once.
        if let error = await running.statistics.lastUpstreamError, !(tokenError?.hasPrefix(error) ?? false) {
            parts.append("last upstream error: \(error)")
        }
        if let reloadError = await running.lifecycle.reloadError {
            parts.append("last reload failed: \(reloadError)")
        }
        return parts.joined(separator: "; ")
    }

    // MARK: Helpers

    /// What a reload reads. When systemd loaded the config file as EnvironmentFile= as well (the shipped
    /// unit does), its values also sit in our environment, which outranks the file: a reload would never
    /// see an edit. Variables whose value is exactly the file's at start-up are taken to come from the
    /// file and left to the file on reload.
    static func reloadSources(_ sources: Configuration.Sources, configFile: String?) -> Configuration.Sources {
        guard let configFile, let text = try? String(contentsOfFile: configFile, encoding: .utf8),
            let pairs = try? EnvironmentFile.parse(text, path: configFile)
        else { return sources }
        var reloading = sources
        for (key, value) in pairs where sources.environment[key] == value {
            reloading.environment[key] = nil
        }
        return reloading
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    private static func signalName(_ number: Int32) -> String {
        switch number {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(number)"
        }
    }
}
