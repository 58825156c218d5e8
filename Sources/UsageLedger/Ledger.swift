import Glibc

/// The usage ledger: one SQLite row per request, written in batches on a thread of its own.
///
/// `record` only appends to a bounded in-memory queue and returns; every SQLite call runs on the ledger's
/// thread, never the caller's (the daemon calls it from its event loop). A ledger that cannot be written
/// (locked, read-only, corrupt, a full disk) never fails or slows a request: it says so in `status` and
/// through `onEvent`, retries each row a bounded number of times, and drops what it cannot keep.
/// Queries run on the same thread after the rows queued before them are written, so they see every
/// request that had ended.
public final class Ledger: Sendable {
    public let configuration: LedgerConfiguration
    private let core: LedgerCore

    /// Starts the ledger's thread, which opens (or creates) the file, migrates it and applies retention.
    /// Never throws: a file that cannot be opened is reported in `status` and tried again later.
    public init(configuration: LedgerConfiguration) {
        self.configuration = configuration
        core = LedgerCore(configuration: configuration)
        LedgerWorker.start(core)
    }

    deinit {
        core.requestStop()
    }

    /// Queues one row; returns at once. With text storage off, prompt and reply text are dropped here.
    public func record(_ record: UsageRecord) {
        var record = record
        if !configuration.storeText {
            record.promptText = nil
            record.replyText = nil
        }
        core.enqueue(record)
    }

    public var status: LedgerStatus { core.currentStatus() }

    /// Returns once the rows queued so far have been written (or given up on for now).
    public func flush() async {
        _ = try? await run { _ throws(SQLiteError) in () }
    }

    /// Writes what is queued, closes the file and stops the thread. Rows recorded afterwards are dropped.
    public func close() async {
        await core.stop()
    }

    /// Rows that started in `since..<until` (Unix ms; nil: unbounded), grouped; days in order, other
    /// groupings by total tokens, largest first.
    public func summary(since: Int64? = nil, until: Int64? = nil, groupBy grouping: SummaryGrouping) async throws(LedgerError) -> [UsageSummaryRow] {
        try await run { store throws(SQLiteError) in try store.summary(sinceMs: since, untilMs: until, groupBy: grouping) }
    }

    /// The latest rows first.
    public func log(_ filter: UsageLogFilter) async throws(LedgerError) -> [UsageLogEntry] {
        try await run { store throws(SQLiteError) in try store.log(filter) }
    }

    public func log(limit: Int = 20, client: String? = nil, model: String? = nil, outcome: UsageOutcome? = nil) async throws(LedgerError) -> [UsageLogEntry] {
        try await log(UsageLogFilter(limit: limit, client: client, model: model, outcome: outcome))
    }

    public func totals(since: Int64, until: Int64) async throws(LedgerError) -> UsageTotals {
        try await run { store throws(SQLiteError) in try store.totals(sinceMs: since, untilMs: until) }
    }

    /// Totals since local midnight.
    public func today() async throws(LedgerError) -> UsageTotals {
        let now = configuration.now()
        return try await totals(since: LocalTime.startOfDay(containing: now), until: LocalTime.nextMidnight(after: now))
    }

    /// Tokens and requests per client since `since` (Unix ms), for budgets.
    public func clientUsage(since: Int64) async throws(LedgerError) -> [ClientUsage] {
        try await run { store throws(SQLiteError) in try store.clientUsage(sinceMs: since) }
    }

    /// Whether `client` may send another request today. No budgets: allowed without a query. A ledger
    /// that cannot be read allows it too: a broken ledger never fails a request.
    public func checkBudget(for client: ClientIdentity, budgets: Budgets) async -> BudgetDecision {
        guard let rule = budgets.rule(for: client) else { return .allow }
        let now = configuration.now()
        guard let usage = try? await clientUsage(since: LocalTime.startOfDay(containing: now)) else { return .allow }
        return BudgetCheck.decide(rule: rule, used: budgets.use(of: rule, in: usage), now: now, resetsAt: LocalTime.nextMidnight(after: now))
    }

    /// Runs `body` on the ledger's thread after the queued rows are written.
    private func run<T: Sendable>(_ body: @escaping @Sendable (LedgerStore) throws(SQLiteError) -> T) async throws(LedgerError) -> T {
        let core = self.core
        let result: Result<T, LedgerError> = await withCheckedContinuation { continuation in
            let accepted = core.submit { store in
                guard let store else {
                    continuation.resume(returning: .failure(core.unavailable()))
                    return
                }
                do throws(SQLiteError) {
                    continuation.resume(returning: .success(try body(store)))
                } catch {
                    continuation.resume(returning: .failure(LedgerError("the usage ledger could not be read: \(error.message)")))
                }
            }
            if !accepted { continuation.resume(returning: .failure(LedgerError("the usage ledger is closed"))) }
        }
        return try result.get()
    }
}

/// A queued row and how many flushes have failed to write it.
struct QueuedRecord {
    var record: UsageRecord
    var bytes: Int
    var attempts = 0
}

/// What the caller's side and the ledger's thread share, under one lock.
final class LedgerCore: @unchecked Sendable {
    let configuration: LedgerConfiguration
    let lock = ConditionLock()

    // Guarded by `lock`.
    private(set) var pending: [QueuedRecord] = []
    private var pendingBytes = 0
    private var jobs: [@Sendable (LedgerStore?) -> Void] = []
    private(set) var stopping = false
    private var stopped = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    private var status: LedgerStatus
    /// Rows dropped by `enqueue` that the worker has not reported yet.
    private var unreportedDrops = 0

    init(configuration: LedgerConfiguration) {
        self.configuration = configuration
        status = LedgerStatus(path: configuration.path, healthy: false, lastError: nil, lastErrorAtMs: nil, pending: 0, written: 0, dropped: 0)
    }

    func enqueue(_ record: UsageRecord) {
        let bytes = record.approximateBytes
        lock.withLock {
            guard !stopping,
                pending.count < configuration.queueCapacity,
                pendingBytes <= configuration.queueByteCapacity - bytes
            else {
                status.dropped &+= 1
                unreportedDrops &+= 1
                return
            }
            pending.append(QueuedRecord(record: record, bytes: bytes))
            pendingBytes += bytes
            if pending.count >= configuration.batchSize { lock.signal() }
        }
    }

    /// Queues work for the ledger's thread; false once the ledger is closing.
    func submit(_ job: @escaping @Sendable (LedgerStore?) -> Void) -> Bool {
        lock.withLock {
            guard !stopping else { return false }
            jobs.append(job)
            lock.signal()
            return true
        }
    }

    func requestStop() {
        lock.withLock {
            stopping = true
            lock.signal()
        }
    }

    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done: Bool = lock.withLock {
                stopping = true
                lock.signal()
                if stopped { return true }
                stopWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    func currentStatus() -> LedgerStatus {
        lock.withLock {
            var copy = status
            copy.pending = pending.count
            return copy
        }
    }

    func unavailable() -> LedgerError {
        LedgerError(currentStatus().lastError ?? "the usage ledger is not open")
    }

    // MARK: - Called by the worker

    /// What one round of the worker takes: the queue, the jobs, whether to stop.
    struct Round {
        var batch: [QueuedRecord]
        var jobs: [@Sendable (LedgerStore?) -> Void]
        var stop: Bool
        var drops: Int
    }

    /// Waits until there is something to do or `deadline` (monotonic ns) passes, and takes it.
    func nextRound(flushDeadline: Int64, otherDeadline: Int64) -> Round {
        lock.withLock {
            while !stopping, jobs.isEmpty, pending.count < configuration.batchSize {
                let now = LedgerClock.monotonicNanoseconds()
                if !pending.isEmpty, now >= flushDeadline { break }
                if now >= otherDeadline { break }
                lock.wait(until: pending.isEmpty ? otherDeadline : min(flushDeadline, otherDeadline))
            }
            let round = Round(batch: pending, jobs: jobs, stop: stopping, drops: unreportedDrops)
            pending = []
            pendingBytes = 0
            jobs = []
            unreportedDrops = 0
            return round
        }
    }

    /// Puts rows that could not be written back at the head of the queue, within its bounds; returns how
    /// many did not fit.
    func requeue(_ rows: [QueuedRecord]) -> Int {
        lock.withLock {
            var room = max(0, configuration.queueCapacity - pending.count)
            var byteRoom = configuration.queueByteCapacity - pendingBytes
            var kept: [QueuedRecord] = []
            for row in rows where room > 0 && row.bytes <= byteRoom {
                kept.append(row)
                room -= 1
                byteRoom -= row.bytes
            }
            pending.insert(contentsOf: kept, at: 0)
            pendingBytes += kept.reduce(0) { $0 + $1.bytes }
            let lost = rows.count - kept.count
            status.dropped &+= UInt64(lost)
            return lost
        }
    }

    /// Empties the queue, without waiting.
    func takePending() -> [QueuedRecord] {
        lock.withLock {
            let rows = pending
            pending = []
            pendingBytes = 0
            return rows
        }
    }

    func noteWritten(_ count: Int) {
        lock.withLock { status.written &+= UInt64(count) }
    }

    func noteDropped(_ count: Int) {
        lock.withLock { status.dropped &+= UInt64(count) }
    }

    /// Records a failure; returns whether it is news (the ledger was healthy, or failed differently).
    func noteFailure(_ message: String) -> Bool {
        lock.withLock {
            let news = status.healthy || status.lastError != message
            status.healthy = false
            status.lastError = message
            status.lastErrorAtMs = configuration.now()
            return news
        }
    }

    /// Records that the ledger works; returns whether it had been failing.
    func noteHealthy() -> Bool {
        lock.withLock {
            let recovered = status.lastError != nil
            status.healthy = true
            status.lastError = nil
            status.lastErrorAtMs = nil
            return recovered
        }
    }

    func finishStop() {
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            // Also when the thread never started: nothing may queue work that no one would run.
            stopping = true
            stopped = true
            status.healthy = false
            let waiting = stopWaiters
            stopWaiters = []
            return waiting
        }
        for waiter in waiters { waiter.resume() }
    }
}

extension UsageRecord {
    /// Roughly what the row holds in memory, for the queue's byte bound.
    var approximateBytes: Int {
        let strings = [
            method, endpoint, modelRequested, modelAnswered, conversation, sessionID, client.processName,
            client.executable, client.unit, promptText, replyText,
        ]
        return strings.reduce(256) { $0 + ($1?.utf8.count ?? 0) }
    }
}
