/// What `Ledger.summary` groups rows by.
public enum SummaryGrouping: String, Sendable, Hashable, CaseIterable {
    /// The local calendar day the request started ("2026-11-25").
    case day
    /// The model that answered without its version ("GigaChat-2-Pro"), else the model asked for.
    case model
    /// The client's executable, else its process name.
    case client
    /// The client's systemd unit.
    case unit
    /// The JSON-RPC method or HTTP route.
    case method
}

/// Sums over a set of ledger rows.
public struct UsageTotals: Sendable, Hashable {
    public var requests: Int64 = 0
    public var inputTokens: Int64 = 0
    public var outputTokens: Int64 = 0
    public var cachedTokens: Int64 = 0
    public var totalTokens: Int64 = 0
    /// Rows whose outcome is `error` or `partial` (a cancel is the client's choice, not an error).
    public var errors: Int64 = 0
    public var queueWaitMs: Int64 = 0

    public init(
        requests: Int64 = 0, inputTokens: Int64 = 0, outputTokens: Int64 = 0, cachedTokens: Int64 = 0,
        totalTokens: Int64 = 0, errors: Int64 = 0, queueWaitMs: Int64 = 0
    ) {
        self.requests = requests
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedTokens = cachedTokens
        self.totalTokens = totalTokens
        self.errors = errors
        self.queueWaitMs = queueWaitMs
    }
}

/// One group of `Ledger.summary`.
public struct UsageSummaryRow: Sendable, Hashable {
    /// The group's value; nil for rows that have none (no unit, no model).
    public var key: String?
    public var totals: UsageTotals

    public init(key: String?, totals: UsageTotals) {
        self.key = key
        self.totals = totals
    }
}

/// Which rows `Ledger.log` returns.
public struct UsageLogFilter: Sendable, Hashable {
    public static let maxLimit = 1000

    /// At most this many rows (1...maxLimit), the latest first.
    public var limit: Int
    /// Matches the client's unit, executable or process name exactly.
    public var client: String?
    /// Matches the model asked for, the model that answered, or the answering model without its version.
    public var model: String?
    public var outcome: UsageOutcome?
    /// Only rows with a larger id (what `gigachatctl log --follow` polls with).
    public var afterID: Int64?
    /// Only rows that started at or after this Unix time in milliseconds.
    public var sinceMs: Int64?

    public init(limit: Int = 20, client: String? = nil, model: String? = nil, outcome: UsageOutcome? = nil, afterID: Int64? = nil, sinceMs: Int64? = nil) {
        self.limit = min(max(limit, 1), Self.maxLimit)
        self.client = client
        self.model = model
        self.outcome = outcome
        self.afterID = afterID
        self.sinceMs = sinceMs
    }
}

/// One row of `Ledger.log`.
public struct UsageLogEntry: Sendable, Hashable {
    /// The row's id: increasing, never reused while the row exists.
    public var id: Int64
    public var record: UsageRecord

    public init(id: Int64, record: UsageRecord) {
        self.id = id
        self.record = record
    }
}

/// Today's use by one client (pid aside), what budgets are checked against.
public struct ClientUsage: Sendable, Hashable {
    public var client: ClientIdentity
    public var tokens: Int64
    public var requests: Int64

    public init(client: ClientIdentity, tokens: Int64, requests: Int64) {
        self.client = client
        self.tokens = tokens
        self.requests = requests
    }
}
