import GigaChatProtocol

/// Lets at most `limit` requests run upstream at once; the rest wait, shared fairly between clients.
///
/// A personal key gets 429 for a second concurrent request, so this queue is what keeps scripts from
/// ever seeing those. Who goes next is `FairPriorityQueue`'s rule: interactive requests before normal
/// ones before batch ones, with a bound so lower classes always move; within a class, round robin between
/// owners (the daemon uses one owner per client connection) and FIFO within one, so a batch script with
/// hundreds of queued requests delays an interactive request by at most one turn, not by its whole
/// backlog. A waiter whose task is cancelled (its client left, or sent `cancel`) leaves the queue at once.
public actor UpstreamLimiter {
    // Who a request belongs to, how urgent it is and whom to tell that it waits come from its
    // `RequestScope`; requests without one share owner 0 at normal priority.

    public private(set) var limit: Int
    public private(set) var inFlight = 0
    private var waiting = FairPriorityQueue<CheckedContinuation<Void, any Error>>()

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    public var queued: Int { waiting.count }

    /// Changes the limit (configuration reload); extra room is handed to waiters at once.
    public func setLimit(_ newLimit: Int) {
        limit = max(1, newLimit)
        resumeWaiters()
    }

    /// Runs `operation` holding a slot, which is returned however `operation` ends. Throws
    /// `CancellationError` (and runs nothing) if the task is cancelled while waiting.
    public nonisolated func withPermit<T>(
        _ operation: () async throws -> T
    ) async throws -> T {
        let scope = RequestScope.current
        if let onQueued = scope?.onQueued, let ahead = await requestsAheadOfANewcomer() {
            await onQueued(ahead)
        }
        let waitStarted = ContinuousClock.now
        try await acquire(owner: scope?.owner ?? 0, priority: scope?.priority ?? .normal)
        let waited = ContinuousClock.now - waitStarted
        RequestMetrics.current?.update { $0.queueWait += waited }
        do {
            let result = try await operation()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }

    /// How many requests a request arriving now would wait behind; nil when it would start at once.
    private func requestsAheadOfANewcomer() -> Int? {
        inFlight < limit && waiting.isEmpty ? nil : inFlight + waiting.count
    }

    private func acquire(owner: UInt64, priority: Priority) async throws {
        try Task.checkCancellation()
        if inFlight < limit, waiting.isEmpty {
            inFlight += 1
            return
        }
        // The ticket is known only inside the continuation's closure; the cancellation handler may run
        // before that, so it goes through this box (touched on this actor only).
        let ticket = TicketBox()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                ticket.value = waiting.enqueue(continuation, owner: owner, priority: priority)
                if Task.isCancelled { cancelWaiter(ticket) }
            }
        } onCancel: {
            Task { await self.cancelWaiter(ticket) }
        }
    }

    private func release() {
        inFlight -= 1
        resumeWaiters()
    }

    private func cancelWaiter(_ ticket: TicketBox) {
        guard let value = ticket.value, let continuation = waiting.remove(value) else { return }
        continuation.resume(throwing: CancellationError())
    }

    private func resumeWaiters() {
        while inFlight < limit, let continuation = waiting.dequeue() {
            inFlight += 1
            continuation.resume()
        }
    }
}

/// A waiter's place in the queue, once it has one.
private final class TicketBox: @unchecked Sendable {
    // @unchecked: read and written only on the limiter's actor.
    var value: FairPriorityQueue<CheckedContinuation<Void, any Error>>.Ticket?
}
