/// Lets at most `limit` requests run upstream at once; the rest wait, shared fairly between clients.
///
/// A personal key gets 429 for a second concurrent request, so this queue is what keeps scripts from
/// ever seeing those. Waiters are grouped by owner (the daemon uses one owner per client connection) and
/// served round robin between owners, FIFO within one: a batch script with hundreds of queued requests
/// delays an interactive request by at most one turn, not by its whole backlog. A waiter whose task is
/// cancelled (its client left, or sent `cancel`) leaves the queue at once.
public actor UpstreamLimiter {
    /// Who a request belongs to, for fair sharing; requests that set none share owner 0.
    @TaskLocal public static var owner: UInt64 = 0
    /// Told how many requests are ahead when a request has to wait for a slot, so its client knows it is
    /// queued rather than stuck.
    @TaskLocal public static var onQueued: (@Sendable (Int) async -> Void)?

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    public private(set) var limit: Int
    public private(set) var inFlight = 0
    /// Queued waiters per owner, FIFO.
    private var queues: [UInt64: [Waiter]] = [:]
    /// Owners with waiters, in the order they get their next turn.
    private var turns: [UInt64] = []
    public private(set) var queued = 0
    private var nextID: UInt64 = 0

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

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
        if let onQueued = Self.onQueued, let ahead = await requestsAheadOfANewcomer() {
            await onQueued(ahead)
        }
        try await acquire(owner: Self.owner)
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
        inFlight < limit && queued == 0 ? nil : inFlight + queued
    }

    private func acquire(owner: UInt64) async throws {
        try Task.checkCancellation()
        if inFlight < limit, queued == 0 {
            inFlight += 1
            return
        }
        nextID += 1
        let id = nextID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if queues[owner, default: []].isEmpty { turns.append(owner) }
                queues[owner, default: []].append(Waiter(id: id, continuation: continuation))
                queued += 1
                // The cancellation handler may have run before we were enqueued.
                if Task.isCancelled { cancelWaiter(id, owner: owner) }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id, owner: owner) }
        }
    }

    private func release() {
        inFlight -= 1
        resumeWaiters()
    }

    private func cancelWaiter(_ id: UInt64, owner: UInt64) {
        guard var queue = queues[owner], let index = queue.firstIndex(where: { $0.id == id }) else { return }
        let waiter = queue.remove(at: index)
        queued -= 1
        if queue.isEmpty {
            queues[owner] = nil
            turns.removeAll { $0 == owner }
        } else {
            queues[owner] = queue
        }
        waiter.continuation.resume(throwing: CancellationError())
    }

    private func resumeWaiters() {
        while inFlight < limit, !turns.isEmpty {
            let owner = turns.removeFirst()
            guard var queue = queues[owner], !queue.isEmpty else { continue }
            let waiter = queue.removeFirst()
            if queue.isEmpty {
                queues[owner] = nil
            } else {
                queues[owner] = queue
                turns.append(owner)  // its next request waits for every other owner's turn
            }
            queued -= 1
            inFlight += 1
            waiter.continuation.resume()
        }
    }
}
