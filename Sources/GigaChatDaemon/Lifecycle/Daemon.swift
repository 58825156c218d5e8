import Dispatch
import Foundation
import GigaChatAPI
import GigaChatProtocol
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UsageLedger

/// gigachatd: binds (or adopts) the sockets, then runs its services as one group (watchdog, token
/// refresher, signals, listeners) until a stop signal drains it, telling systemd about each step.
public final class Daemon: Sendable {
    private let sources: SettingsSources
    private let initialSettings: Settings
    private let logger: Logger
    private let notifier = SystemdNotifier()

    public init(settings: Settings, sources: SettingsSources, logger: Logger) {
        self.initialSettings = settings
        self.sources = sources
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT has been handled; returns normally after a graceful drain.
    /// Throws when the socket cannot be served.
    public func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        ConnectionSlots.raiseLimit()
        // First thing: from here on SIGTERM drains instead of killing, even during start-up.
        let signals = await SignalService.trap()

        let settings = initialSettings
        let configuration = settings.api
        let current = CurrentSettings(settings.daemon)
        let upstream = try UpstreamService(configuration: configuration, daemon: settings.daemon, logger: logger)
        let statistics = DaemonStatistics()
        let lifecycle = Lifecycle()
        // Two threads: file work is short (conversations, opening uploads), and one stuck disk must not
        // hold up the rest.
        let fileIOPool = NIOThreadPool(numberOfThreads: 2)
        fileIOPool.start()
        defer { fileIOPool.shutdownGracefully { _ in } }
        let usage = UsageAccounting.open(settings.ledger, budgets: settings.budgets, logger: logger)
        let dispatcher = Dispatcher(
            upstream: upstream, statistics: statistics, lifecycle: lifecycle, fileIO: FileIO(pool: fileIOPool), usage: usage, settings: settings
        )
        let connection = Connection(
            dispatcher: dispatcher, settings: current, statistics: statistics, lifecycle: lifecycle, admission: RequestAdmission(), usage: usage, logger: logger
        )

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener: RPCListener
        do {
            listener = try await bind(settings: current, group: group)
        } catch {
            await upstream.shutdown()
            try? await group.shutdownGracefully()
            throw error
        }
        // The OpenAI-compatible HTTP front end, beside the JSON-RPC socket.
        let http: HTTPFrontEnd
        do {
            http = try await HTTPFrontEnd.start(
                settings: settings.http, limits: current, upstream: upstream, statistics: statistics, usage: usage, group: group, logger: logger
            )
        } catch {
            try? await listener.channel.channel.close()
            listener.createdPath?.remove()
            await upstream.shutdown()
            try? await group.shutdownGracefully()
            throw error
        }
        await lifecycle.set(.running)
        notifier.ready(status: "serving on \(listener.path); fetching a token")
        var readyMetadata: Logger.Metadata = [
            "socket": "\(listener.path)", "activated": "\(listener.activated)", "base_url": "\(configuration.baseURL)",
        ]
        if let file = settings.configFile { readyMetadata["config_file"] = "\(file)" }
        logger.notice("gigachatd ready", metadata: readyMetadata)
        if configuration.authentication == .none, configuration.certFile == nil {
            logger.warning(
                "no credentials configured: every API request will fail until the authorization key is in ~/.config/gigachat/credentials (or GIGACHAT_CREDENTIALS) and gigachatd is reloaded"
            )
        }

        let parts = DaemonParts(
            upstream: upstream, settings: current, statistics: statistics, lifecycle: lifecycle, usage: usage, http: http, notifier: notifier, logger: logger
        )
        let shutdown = ShutdownTrigger()
        let reloader = Reloader(
            parts: parts, sources: Self.reloadSources(sources, configFile: settings.configFile), socketPath: settings.daemon.socket.path
        )
        // Started in this order and shut down in the reverse: the listeners drain first, while the
        // token refresher and the watchdog still run; signals are heard until the drain is over.
        let services = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                // Named here: the library's default name is the service's whole description, secrets included.
                services: [
                    .init(service: WatchdogService(parts: parts, eventLoop: group.next()), successTerminationBehavior: .ignore, serviceName: "watchdog"),
                    .init(service: upstream, serviceName: "token refresher"),
                    .init(
                        service: SignalService(parts: parts, signals: signals, reloader: reloader, shutdown: shutdown), serviceName: "signals"
                    ),
                    .init(
                        service: ListenerService(parts: parts, listener: listener, connection: connection),
                        failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "listeners"
                    ),
                ],
                logger: logger
            )
        )
        shutdown.attach(services)
        var failure: (any Error)?
        do {
            try await services.run()
        } catch {
            failure = error
        }
        listener.createdPath?.remove()
        http.removeSockets()
        try? await group.shutdownGracefully()
        if let failure {
            if let setup = failure as? SocketSetupError { throw setup }
            throw SocketSetupError(.listen, "gigachatd stopped on an error: \(failure)")
        }
        // Every request has ended: its row is queued; write what is queued before exiting.
        await usage.ledger.close()
        logger.notice("gigachatd stopped")
    }

    // MARK: Socket

    private func bind(settings: CurrentSettings, group: MultiThreadedEventLoopGroup) async throws -> RPCListener {
        let configured = settings.value.socket
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<LineFrame, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture {
                // Read per connection: a reload's GIGACHATD_MAX_LINE_BYTES holds for the connections after it.
                let maxLineBytes = settings.value.maxLineBytes
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLineBytes: maxLineBytes)))
                return try NIOAsyncChannel<LineFrame, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        if let passed = try SocketActivation.listeningSocket() {
            let channel: NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>
            do {
                channel = try await bootstrap.bind(passed.descriptor, childChannelInitializer: initializer)
            } catch {
                throw SocketSetupError(.listen, "cannot serve on the socket systemd passed (fd \(passed.descriptor), \(passed.name)): \(error)")
            }
            let path = passed.path ?? "the socket systemd passed (\(passed.name))"
            if let bound = passed.path, bound != configured.path {
                logger.info(
                    "serving on the socket systemd passed, not the configured path", metadata: ["socket": "\(bound)", "configured": "\(configured.path)"]
                )
            }
            return RPCListener(channel: channel, activated: true, path: path, createdPath: nil)
        }
        let path = configured.path
        try SocketDirectory.prepare(configured)
        try SocketDirectory.clearStale(path)
        // Created 0600 from the start: no window in which another user could connect.
        let previousMask = umask(0o177)
        defer { umask(previousMask) }
        let channel: NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>
        do {
            channel = try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: initializer)
        } catch {
            throw SocketSetupError(.listen, "cannot listen on \(path): \(error)")
        }
        var info = stat()
        let inode = lstat(path, &info) == 0 ? UInt64(info.st_ino) : 0
        return RPCListener(channel: channel, activated: false, path: path, createdPath: SocketFile(path: path, inode: inode))
    }

    // MARK: Helpers

    /// What a reload reads. When systemd loaded the config file as EnvironmentFile= as well (the shipped
    /// unit does), its values also sit in our environment, which outranks the file: a reload would never
    /// see an edit. Variables whose value is exactly the file's at start-up are taken to come from the
    /// file and left to the file on reload.
    static func reloadSources(_ sources: SettingsSources, configFile: String?) -> SettingsSources {
        guard let configFile, let text = try? String(contentsOfFile: configFile, encoding: .utf8),
            let pairs = try? EnvironmentFile.parse(text, path: configFile)
        else { return sources }
        var reloading = sources
        for (key, value) in pairs where sources.environment[key] == value {
            reloading.environment[key] = nil
        }
        return reloading
    }
}
