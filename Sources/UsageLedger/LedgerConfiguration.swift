import GigaChatProtocol

/// A ledger problem, in words for `status` and the journal.
public struct LedgerError: ErrorShape, Hashable {
    public enum Kind: Sendable, Hashable {
        /// The ledger's database cannot be opened, written or read.
        case storage
        /// A ledger setting (budgets, retention, text storage) is invalid.
        case invalidSetting
    }

    public var kind: Kind
    public var message: String
    public var cause: ErrorCause?

    public init(_ message: String, kind: Kind = .storage, cause: ErrorCause? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}

/// What the ledger tells its owner, on the ledger's own thread, for the journal.
public enum LedgerEvent: Sendable, Hashable {
    /// Writing (or opening) started failing, or failed differently than before.
    case failed(String)
    /// Rows were written again after a failure.
    case recovered
    /// Rows were lost: the queue was full, or they could not be written in time.
    case dropped(count: Int, reason: String)
}

/// Where the ledger lives and how it behaves.
public struct LedgerConfiguration: Sendable {
    public static let fileName = "usage.sqlite3"
    public static let defaultRetentionDays = 90
    public static let retentionRange = 1...36_500

    /// The database file; its directory is created 0700 when missing.
    public var path: String
    /// Rows older than this many days are deleted at open and once a day.
    public var retentionDays: Int
    /// Keep prompt and reply text (off unless GIGACHATD_LEDGER_TEXT=1); when off, text given to
    /// `record` is dropped before it is queued.
    public var storeText: Bool
    /// Queued rows are written at least this often...
    public var flushIntervalMs: Int64 = 1000
    /// ...or as soon as this many are queued, in one transaction.
    public var batchSize = 256
    /// The most rows waiting to be written; further rows are dropped (and counted) until there is room.
    /// At a few hundred bytes a row (no text) this bounds the queue to a few MiB.
    public var queueCapacity = 10_000
    /// The most bytes of queued text and fields, for when text is stored.
    public var queueByteCapacity = 64 << 20
    /// A row that cannot be written (locked, read-only, broken file) is tried at this many flushes, then
    /// dropped: about half a minute at the default interval.
    public var maxFlushAttempts = 30
    /// How often a ledger that could not be opened is tried again.
    public var reopenIntervalMs: Int64 = 10_000
    /// How often retention runs after the one at open.
    public var retentionIntervalMs: Int64 = 86_400_000
    /// How long one SQLite statement waits for another process's lock (sqlite3 in a terminal).
    public var busyTimeoutMs: Int32 = 2000
    /// Unix time in milliseconds; tests move it.
    public var now: @Sendable () -> Int64 = LedgerClock.wallMilliseconds
    /// Told about failures, recoveries and dropped rows (log them to the journal).
    public var onEvent: (@Sendable (LedgerEvent) -> Void)?

    public init(path: String, retentionDays: Int = LedgerConfiguration.defaultRetentionDays, storeText: Bool = false) {
        self.path = path
        self.retentionDays = min(max(retentionDays, Self.retentionRange.lowerBound), Self.retentionRange.upperBound)
        self.storeText = storeText
    }

    /// `stateDirectory/usage.sqlite3` ($XDG_STATE_HOME/gigachat), with GIGACHATD_LEDGER_RETENTION_DAYS
    /// (1–36500, default 90) and GIGACHATD_LEDGER_TEXT (`1`/`true` keeps prompt and reply text; default off).
    public static func fromEnvironment(_ environment: [String: String], stateDirectory: String) throws(LedgerError) -> LedgerConfiguration {
        var retention = defaultRetentionDays
        if let text = environment["GIGACHATD_LEDGER_RETENTION_DAYS"]?.trimmingSpaces, !text.isEmpty {
            guard let days = Int(text), retentionRange.contains(days) else {
                throw LedgerError(
                    "GIGACHATD_LEDGER_RETENTION_DAYS must be a whole number of days from \(retentionRange.lowerBound) to \(retentionRange.upperBound), not \"\(text)\""
                )
            }
            retention = days
        }
        var storeText = false
        if let text = environment["GIGACHATD_LEDGER_TEXT"]?.trimmingSpaces.lowercased(), !text.isEmpty {
            switch text {
            case "1", "true", "yes", "on": storeText = true
            case "0", "false", "no", "off": storeText = false
            default: throw LedgerError("GIGACHATD_LEDGER_TEXT must be 1 or 0 (true or false), not \"\(text)\"", kind: .invalidSetting)
            }
        }
        return LedgerConfiguration(path: stateDirectory + "/" + fileName, retentionDays: retention, storeText: storeText)
    }
}

/// The ledger's health and counters, for `status`.
public struct LedgerStatus: Sendable, Hashable {
    public var path: String
    /// The ledger file is open and its last write (if any) succeeded.
    public var healthy: Bool
    /// The most recent failure; cleared when writing works again.
    public var lastError: String?
    public var lastErrorAtMs: Int64?
    /// Rows waiting to be written.
    public var pending: Int
    /// Rows written since the daemon started.
    public var written: UInt64
    /// Rows lost since the daemon started (queue full, or not writable in time).
    public var dropped: UInt64
}

extension String {
    var trimmingSpaces: String {
        let spaces: Set<Character> = [" ", "\t", "\n", "\r"]
        guard let first = firstIndex(where: { !spaces.contains($0) }), let last = lastIndex(where: { !spaces.contains($0) }) else { return "" }
        return String(self[first...last])
    }
}
