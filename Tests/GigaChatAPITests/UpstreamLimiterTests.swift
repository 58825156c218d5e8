import Testing

@testable import GigaChatAPI

@Suite struct UpstreamLimiterTests {
    /// Holds the one slot until `open()`; lets a test line waiters up behind it.
    actor Gate {
        private var waiting: CheckedContinuation<Void, Never>?
        private var opened = false
        func wait() async {
            if opened { return }
            await withCheckedContinuation { waiting = $0 }
        }
        func open() {
            opened = true
            waiting?.resume()
            waiting = nil
        }
    }

    actor OrderLog {
        var items: [String] = []
        func append(_ item: String) { items.append(item) }
    }

    /// Takes the single slot with a holder and lines up `waiters` (owner, label) in that order.
    private func lineUp(_ limiter: UpstreamLimiter, _ waiters: [(UInt64, String)], log: OrderLog) async throws
        -> (gate: Gate, tasks: [Task<Void, any Error>])
    {
        let gate = Gate()
        var tasks: [Task<Void, any Error>] = [
            Task {
                try await limiter.withPermit { await gate.wait() }
            }
        ]
        while await limiter.inFlight < 1 { await Task.yield() }
        for (index, waiter) in waiters.enumerated() {
            tasks.append(
                Task {
                    try await RequestScope.run(RequestScope(owner: waiter.0)) {
                        try await limiter.withPermit { await log.append(waiter.1) }
                    }
                })
            while await limiter.queued < index + 1 { await Task.yield() }
        }
        return (gate, tasks)
    }

    @Test func servesOneOwnersWaitersInArrivalOrder() async throws {
        let limiter = UpstreamLimiter(limit: 1)
        let log = OrderLog()
        let (gate, tasks) = try await lineUp(limiter, (0..<5).map { (7, "\($0)") }, log: log)
        await gate.open()
        for task in tasks { try await task.value }
        #expect(await log.items == ["0", "1", "2", "3", "4"])
        #expect(await limiter.inFlight == 0)
    }

    @Test func sharesSlotsRoundRobinBetweenOwners() async throws {
        let limiter = UpstreamLimiter(limit: 1)
        let log = OrderLog()
        // A batch client queues four requests first; an interactive one arrives after them.
        let waiters: [(UInt64, String)] = [(1, "a1"), (1, "a2"), (1, "a3"), (1, "a4"), (2, "b1")]
        let (gate, tasks) = try await lineUp(limiter, waiters, log: log)
        await gate.open()
        for task in tasks { try await task.value }
        #expect(await log.items == ["a1", "b1", "a2", "a3", "a4"])
    }

    @Test func aCancelledWaiterLeavesTheQueue() async throws {
        let limiter = UpstreamLimiter(limit: 1)
        let log = OrderLog()
        let (gate, tasks) = try await lineUp(limiter, [(3, "x")], log: log)
        tasks[1].cancel()
        await #expect(throws: CancellationError.self) { try await tasks[1].value }
        #expect(await limiter.queued == 0)
        await gate.open()
        try await tasks[0].value
        #expect(await limiter.inFlight == 0)
        #expect(await log.items.isEmpty)
    }

    @Test func theSlotIsReturnedWhenTheOperationThrows() async throws {
        struct Failure: Error {}
        let limiter = UpstreamLimiter(limit: 1)
        await #expect(throws: Failure.self) { try await limiter.withPermit { throw Failure() } }
        #expect(await limiter.inFlight == 0)
    }
}
