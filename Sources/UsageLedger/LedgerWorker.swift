internal import CSQLite
import GigaChatProtocol
import Glibc

/// The ledger's own thread: the only one that touches SQLite. It opens the file, writes batches, runs
/// retention and answers queries; a blocked or slow disk stalls it and nothing else.
final class LedgerWorker {
    private let core: LedgerCore
    private var configuration: LedgerConfiguration { core.configuration }
    private var store: LedgerStore?
    private var nextOpenAttempt: Int64 = 0
    private var nextRetention: Int64 = .max

    private init(core: LedgerCore) {
        self.core = core
    }

    static func start(_ core: LedgerCore) {
        let worker = LedgerWorker(core: core)
        let context = Unmanaged.passRetained(worker).toOpaque()
        var thread = pthread_t()
        let code = pthread_create(
            &thread, nil,
            { raw in
                guard let raw else { return nil }
                let worker = Unmanaged<LedgerWorker>.fromOpaque(raw).takeRetainedValue()
                worker.main()
                return nil
            }, context)
        guard code == 0 else {
            Unmanaged<LedgerWorker>.fromOpaque(context).release()
            _ = core.noteFailure("the usage ledger could not start its thread: \(ErrorCause.errno(code).description)")
            core.finishStop()
            return
        }
        pthread_detach(thread)
    }

    private func main() {
        openIfDue(force: true)
        var flushDeadline = deadline(afterMs: configuration.flushIntervalMs)
        while true {
            // Closed: the next open attempt is due; open: the next retention (which needs the file).
            let otherDeadline = store == nil ? nextOpenAttempt : nextRetention
            let round = core.nextRound(flushDeadline: flushDeadline, otherDeadline: otherDeadline)
            if round.drops > 0 { report(.dropped(count: round.drops, reason: "the queue of rows waiting to be written is full")) }
            openIfDue(force: false)
            if !round.batch.isEmpty { write(round.batch) }
            flushDeadline = deadline(afterMs: configuration.flushIntervalMs)
            if store != nil, LedgerClock.monotonicNanoseconds() >= nextRetention { applyRetention() }
            for job in round.jobs { job(store) }
            if round.stop {
                finish()
                return
            }
        }
    }

    /// The monotonic time `milliseconds` from now, saturating.
    private func deadline(afterMs milliseconds: Int64) -> Int64 {
        let (product, overflow) = max(milliseconds, 0).multipliedReportingOverflow(by: 1_000_000)
        let (sum, overflow2) = LedgerClock.monotonicNanoseconds().addingReportingOverflow(product)
        return overflow || overflow2 ? .max : sum
    }

    private func openIfDue(force: Bool) {
        guard store == nil, force || LedgerClock.monotonicNanoseconds() >= nextOpenAttempt else { return }
        nextOpenAttempt = deadline(afterMs: configuration.reopenIntervalMs)
        do {
            store = try LedgerStore.open(path: configuration.path, busyTimeoutMs: configuration.busyTimeoutMs)
        } catch {
            fail(error.message)
            return
        }
        if core.noteHealthy() { report(.recovered) }
        applyRetention()
    }

    private func applyRetention() {
        nextRetention = deadline(afterMs: configuration.retentionIntervalMs)
        guard let store else { return }
        let days = Int64(min(max(configuration.retentionDays, LedgerConfiguration.retentionRange.lowerBound), LedgerConfiguration.retentionRange.upperBound))
        let cutoff = configuration.now() &- days &* 86_400_000
        do {
            _ = try store.deleteOlderThan(cutoff)
        } catch {
            fail("the usage ledger's retention (deleting rows older than \(days) days) failed: \(error.message)")
        }
    }

    /// Writes `batch` in one transaction; on failure each row is tried again at later flushes, up to the
    /// configured number of attempts.
    private func write(_ batch: [QueuedRecord]) {
        let failure: String
        if let store {
            do {
                try store.insert(batch.map(\.record), storeText: configuration.storeText)
                core.noteWritten(batch.count)
                if core.noteHealthy() { report(.recovered) }
                return
            } catch {
                failure = "the usage ledger \(configuration.path) could not be written: \(error.message)"
                // A lock passes; anything else (read-only, corrupt, replaced file) gets a fresh open later.
                if !error.isBusy {
                    self.store = nil
                    nextOpenAttempt = deadline(afterMs: configuration.reopenIntervalMs)
                }
            }
        } else {
            failure = core.unavailable().message
        }
        fail(failure)
        var retry: [QueuedRecord] = []
        var expired = 0
        for var row in batch {
            row.attempts += 1
            if row.attempts >= configuration.maxFlushAttempts {
                expired += 1
            } else {
                retry.append(row)
            }
        }
        if expired > 0 {
            core.noteDropped(expired)
            report(.dropped(count: expired, reason: "not written after \(configuration.maxFlushAttempts) attempts: \(failure)"))
        }
        let lost = core.requeue(retry)
        if lost > 0 { report(.dropped(count: lost, reason: "the queue of rows waiting to be written is full")) }
    }

    private func fail(_ message: String) {
        if core.noteFailure(message) { report(.failed(message)) }
    }

    private func report(_ event: LedgerEvent) {
        configuration.onEvent?(event)
    }

    /// The last flush has run: what could not be written is lost, the file is closed, waiters resume.
    private func finish() {
        let leftover = core.takePending()
        if !leftover.isEmpty, store != nil { write(leftover) }
        let lost = core.takePending().count
        if lost > 0 {
            core.noteDropped(lost)
            report(.dropped(count: lost, reason: "the ledger closed before they could be written"))
        }
        store = nil
        core.finishStop()
    }
}
