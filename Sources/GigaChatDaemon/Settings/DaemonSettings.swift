import GigaChatAPI
import GigaChatOpenAI
import GigaChatProtocol
import NIOConcurrencyHelpers

/// The daemon's own settings (GIGACHATD_*), with their defaults and accepted ranges (docs/RELIABILITY.md
/// lists them). The API client's settings are `Configuration`; the HTTP front end's `OpenAISettings`; the
/// ledger's `LedgerConfiguration`.
public struct DaemonSettings: Sendable, Equatable {
    /// When a changed value takes effect.
    public enum Applied: Sendable {
        /// On `systemctl --user reload gigachatd` (SIGHUP), for the requests and connections after it.
        case onReload
        /// Only when gigachatd starts.
        case atRestart
    }

    public enum Key: String, CaseIterable, Sendable {
        case socket = "GIGACHATD_SOCKET"
        case maxLineBytes = "GIGACHATD_MAX_LINE_BYTES"
        case drainTimeout = "GIGACHATD_DRAIN_TIMEOUT"
        case maxRetryAfter = "GIGACHATD_MAX_RETRY_AFTER"
        case clientStallTimeout = "GIGACHATD_CLIENT_STALL_TIMEOUT"
        case requestTimeout = "GIGACHATD_REQUEST_TIMEOUT"
        case maxRequestsPerConnection = "GIGACHATD_MAX_REQUESTS_PER_CONNECTION"
        case maxRequests = "GIGACHATD_MAX_REQUESTS"
        case maxPendingBytes = "GIGACHATD_MAX_PENDING_BYTES"
        case balanceInterval = "GIGACHATD_BALANCE_INTERVAL"
        case balanceWarning = "GIGACHATD_BALANCE_WARN"

        /// Only the socket takes a restart: it is bound once. Every limit is read when a request or a
        /// connection starts, so a reload applies to what comes after it.
        public var applied: Applied { self == .socket ? .atRestart : .onReload }
    }

    public static let defaultDrainTimeoutSeconds = 30.0
    /// A client that reads nothing of what the daemon has for it this long loses the request.
    public static let defaultClientStallTimeoutSeconds = 30.0
    /// The longest any one request may take, queue included.
    public static let defaultRequestTimeoutSeconds = 900.0
    public static let defaultMaxRequestsPerConnection = 64
    public static let defaultMaxRequests = 1024
    /// Request-line bytes held by requests that have not finished yet, across all clients.
    public static let defaultMaxPendingBytes = 256 * 1024 * 1024
    /// How often a prepaid key's balance is read (0: never); postpaid keys answer 403 and are not asked again.
    public static let defaultBalanceIntervalSeconds = 900.0
    /// A balance entry below this many tokens is warned about, once.
    public static let defaultBalanceWarning = 10_000

    /// The accepted range of every numeric setting.
    public enum Limits {
        public static let maxLineBytes: ClosedRange<Int> = 1024...(1 << 30)
        public static let drainTimeoutSeconds: ClosedRange<Double> = 0...3600
        public static let clientStallTimeoutSeconds: ClosedRange<Double> = 1...3600
        public static let requestTimeoutSeconds: ClosedRange<Double> = 1...86400
        public static let maxRequestsPerConnection: ClosedRange<Int> = 1...100_000
        public static let maxRequests: ClosedRange<Int> = 1...1_000_000
        public static let maxPendingBytes: ClosedRange<Int> = (1 << 20)...(1 << 34)
        public static let balanceIntervalSeconds: ClosedRange<Double> = 0...86400
        public static let balanceWarning: ClosedRange<Int> = 0...1_000_000_000_000
    }

    public var socket: SocketPath
    public var maxLineBytes = ProtocolDefaults.maxLineBytes
    public var drainTimeoutSeconds = defaultDrainTimeoutSeconds
    public var maxRetryAfterSeconds = Configuration.defaultMaxRetryAfterSeconds
    public var clientStallTimeoutSeconds = defaultClientStallTimeoutSeconds
    public var requestTimeoutSeconds = defaultRequestTimeoutSeconds
    public var maxRequestsPerConnection = defaultMaxRequestsPerConnection
    public var maxRequests = defaultMaxRequests
    public var maxPendingBytes = defaultMaxPendingBytes
    public var balanceIntervalSeconds = defaultBalanceIntervalSeconds
    public var balanceWarning = defaultBalanceWarning

    public init(socket: SocketPath) {
        self.socket = socket
    }

    /// The settings the GIGACHATD_* values describe, with `socket` already resolved (it has a flag and
    /// a default of its own).
    public init(values: SettingValues, socket: SocketPath) throws(ConfigurationError) {
        self.init(socket: socket)
        if let value = try values.integer(Key.maxLineBytes.rawValue, Limits.maxLineBytes) { maxLineBytes = value }
        if let value = try values.number(Key.drainTimeout.rawValue, Limits.drainTimeoutSeconds) { drainTimeoutSeconds = value }
        if let value = try values.number(Key.maxRetryAfter.rawValue, Configuration.Limits.maxRetryAfterSeconds) { maxRetryAfterSeconds = value }
        if let value = try values.number(Key.clientStallTimeout.rawValue, Limits.clientStallTimeoutSeconds) { clientStallTimeoutSeconds = value }
        if let value = try values.number(Key.requestTimeout.rawValue, Limits.requestTimeoutSeconds) { requestTimeoutSeconds = value }
        if let value = try values.integer(Key.maxRequestsPerConnection.rawValue, Limits.maxRequestsPerConnection) { maxRequestsPerConnection = value }
        if let value = try values.integer(Key.maxRequests.rawValue, Limits.maxRequests) { maxRequests = value }
        if let value = try values.integer(Key.maxPendingBytes.rawValue, Limits.maxPendingBytes) { maxPendingBytes = value }
        if let value = try values.number(Key.balanceInterval.rawValue, Limits.balanceIntervalSeconds) { balanceIntervalSeconds = value }
        if let value = try values.integer(Key.balanceWarning.rawValue, Limits.balanceWarning) { balanceWarning = value }
    }

    /// The limits the HTTP front end applies, the same as the JSON-RPC side's.
    public var frontEndLimits: OpenAISettings.Limits {
        OpenAISettings.Limits(
            requestTimeoutSeconds: requestTimeoutSeconds, clientStallTimeoutSeconds: clientStallTimeoutSeconds, maxLineBytes: maxLineBytes,
            maxPendingBytes: maxPendingBytes, maxRequests: maxRequests
        )
    }
}

/// The daemon settings in force now: read (without waiting) wherever a request or a connection starts,
/// replaced by a reload.
final class CurrentSettings: Sendable {
    private let box: NIOLockedValueBox<DaemonSettings>

    init(_ settings: DaemonSettings) {
        box = NIOLockedValueBox(settings)
    }

    var value: DaemonSettings { box.withLockedValue { $0 } }

    func replace(with settings: DaemonSettings) {
        box.withLockedValue { $0 = settings }
    }
}
