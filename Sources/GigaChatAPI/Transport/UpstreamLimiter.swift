/// Lets at most `limit` requests run upstream at once; the rest wait in a fair FIFO queue.
///
/// A personal key gets 429 for a second concurrent request, so this queue is what keeps scripts from
/// ever seeing those. A waiter whose task is cancelled (its client left, or sent `cancel`) leaves the
/// queue at once.
public actor UpstreamLimiter {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    public private(set) var limit: Int
    public private(set) var inFlight = 0
    private var waiters: [Waiter] = []
    private var nextID: UInt64 = 0

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    public var queued: Int { waiters.count }

    /// Changes the limit (configuration reload); extra room is handed to waiters at once.
    public func setLimit(_ newLimit: Int) {
        limit = max(1, newLimit)
        resumeWaiters()
    }

    /// Waits for a slot. Throws CancellationError if the task is cancelled while waiting.
    public func acquire() async throws {
        try Task.checkCancellation()
        if inFlight < limit, waiters.isEmpty {
            inFlight += 1
            return
        }
        nextID += 1
        let id = nextID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                waiters.append(Waiter(id: id, continuation: continuation))
                // The cancellation handler may have run before we were enqueued.
                if Task.isCancelled { cancelWaiter(id) }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    /// Returns a slot taken by `acquire()`.
    public func release() {
        inFlight -= 1
        resumeWaiters()
    }

    private func cancelWaiter(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters.remove(at: index)
        waiter.continuation.resume(throwing: CancellationError())
    }

    private func resumeWaiters() {
        while inFlight < limit, !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            inFlight += 1
            waiter.continuation.resume()
        }
    }
}
