import CurlHTTP
import GigaChatAPI
import Logging
import ServiceLifecycle

/// Holds the current API client and swaps it on reload. Requests already running keep the client they
/// started with; the upstream limiter and the curl engine are shared, so the limit holds across swaps.
actor UpstreamService {
    private(set) var client: GigaChatClient
    /// The balance watcher's schedule: GIGACHATD_BALANCE_INTERVAL and GIGACHATD_BALANCE_WARN.
    private var balanceSchedule: (interval: Double, warning: Int)
    let engine: CurlEngine
    let limiter: UpstreamLimiter
    let balance: BalanceWatcher
    private let logger: Logger

    init(configuration: Configuration, daemon: DaemonSettings, logger: Logger) throws {
        balanceSchedule = (daemon.balanceIntervalSeconds, daemon.balanceWarning)
        let engine = try CurlEngine()
        let limiter = UpstreamLimiter(limit: configuration.effectiveMaxConnections)
        self.engine = engine
        self.limiter = limiter
        self.logger = logger
        self.balance = BalanceWatcher(logger: logger)
        self.client = try GigaChatClient(configuration: configuration, engine: engine, limiter: limiter, logger: logger)
    }

    var configuration: Configuration { client.configuration }

    /// Starts fetching a token in the background.
    func start() async {
        await client.tokens.start()
        await balance.start(client: client, interval: balanceSchedule.interval, warning: balanceSchedule.warning)
    }

    /// Switches to a new configuration. Only new credentials (or a new way to fetch a token) get a new
    /// token manager; otherwise the current token, its refresh loop and its counters carry over.
    func reload(_ configuration: Configuration, daemon: DaemonSettings) async throws {
        let sameTokenSource = configuration.tokenSource == client.configuration.tokenSource
        let replacement = try GigaChatClient(
            configuration: configuration, engine: engine, limiter: limiter, logger: logger,
            tokens: sameTokenSource ? client.tokens : nil,
            refreshesSoFar: await client.tokens.refreshes
        )
        if !sameTokenSource {
            await client.tokens.stop()
            logger.notice("credentials changed; fetching a new token")
        }
        client = replacement
        await limiter.setLimit(configuration.effectiveMaxConnections)
        await replacement.tokens.start()
        balanceSchedule = (daemon.balanceIntervalSeconds, daemon.balanceWarning)
        await balance.start(client: replacement, interval: balanceSchedule.interval, warning: balanceSchedule.warning)
    }

    func shutdown() async {
        await balance.stop()
        await client.tokens.stop()
        engine.shutdown()
    }
}

extension UpstreamService: Service {
    /// Keeps the token fresh and the balance read until the group shuts down (after the drain, so the
    /// last requests still have a token), then stops both and the curl engine.
    nonisolated func run() async {
        await start()
        try? await gracefulShutdown()
        await shutdown()
    }
}
