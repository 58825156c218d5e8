internal import CCurl
import NIOConcurrencyHelpers

/// The thread-safe front of a curl engine: a mailbox for the engine thread plus the wakeup call.
///
/// Other threads never touch curl handles directly; they post work here and wake the engine thread.
final class EngineCore: Sendable {
    /// Work posted for the engine thread.
    struct Work {
        var starts: [TransferState] = []
        var cancels: [TransferState] = []
        var unpauses: [TransferState] = []
        var stopping = false
    }

    private struct Mailbox {
        var work = Work()
        /// Set by the engine thread right before `curl_multi_cleanup`; from then on nobody may wake it.
        var closed = false
    }

    /// The multi handle, used here only for `curl_multi_wakeup`.
    ///
    /// `@unchecked Sendable`: libcurl documents `curl_multi_wakeup` as callable from any thread; every other
    /// use of the handle happens on the engine thread. The `mailbox` lock orders wakeups before cleanup.
    struct MultiHandle: @unchecked Sendable {
        let raw: UnsafeMutableRawPointer
    }

    let multi: MultiHandle
    private let mailbox = NIOLockedValueBox(Mailbox())

    init(multi: UnsafeMutableRawPointer) {
        self.multi = MultiHandle(raw: multi)
    }

    /// Queues a new transfer; false once the engine is stopping.
    func submit(_ state: TransferState) -> Bool {
        post { work in
            guard !work.stopping else { return false }
            work.starts.append(state)
            return true
        }
    }

    func requestCancel(_ state: TransferState) {
        _ = post { work in
            work.cancels.append(state)
            return true
        }
    }

    func requestUnpause(_ state: TransferState) {
        _ = post { work in
            work.unpauses.append(state)
            return true
        }
    }

    func requestStop() {
        _ = post { work in
            work.stopping = true
            return true
        }
    }

    /// Engine thread: takes everything posted since the last call.
    func takeWork() -> Work {
        mailbox.withLockedValue { mailbox in
            let work = mailbox.work
            mailbox.work = Work(stopping: work.stopping)
            return work
        }
    }

    /// Engine thread: after this, posts are refused and the multi handle may be cleaned up.
    /// Returns transfers that were submitted but never started.
    func close() -> [TransferState] {
        mailbox.withLockedValue { mailbox in
            mailbox.closed = true
            let unstarted = mailbox.work.starts
            mailbox.work = Work(stopping: true)
            return unstarted
        }
    }

    private func post(_ change: (inout Work) -> Bool) -> Bool {
        mailbox.withLockedValue { mailbox in
            guard !mailbox.closed, change(&mailbox.work) else { return false }
            // Waking under the lock keeps `close()` + cleanup from racing with this call. A failed wakeup only
            // delays the work until the engine's next poll timeout, so its result needs no further handling.
            _ = curl_multi_wakeup(multi.raw)
            return true
        }
    }
}
