import Testing
@testable import GigaChatAPI

@Suite struct UpstreamLimiterTests {
    @Test func servesWaitersInArrivalOrder() async throws {
        let limiter = UpstreamLimiter(limit: 1)
        try await limiter.acquire()
        let order = OrderLog()
        var tasks: [Task<Void, any Error>] = []
        for index in 0..<5 {
            tasks.append(Task {
                try await limiter.acquire()
                await order.append(index)
                await limiter.release()
            })
            while await limiter.queued < index + 1 { await Task.yield() }
        }
        await limiter.release()
        for task in tasks { try await task.value }
        #expect(await order.items == [0, 1, 2, 3, 4])
        #expect(await limiter.inFlight == 0)
    }

    @Test func aCancelledWaiterLeavesTheQueue() async throws {
        let limiter = UpstreamLimiter(limit: 1)
        try await limiter.acquire()
        let waiter = Task { try await limiter.acquire() }
        while await limiter.queued < 1 { await Task.yield() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(await limiter.queued == 0)
        await limiter.release()
        #expect(await limiter.inFlight == 0)
    }

    actor OrderLog {
        var items: [Int] = []
        func append(_ item: Int) { items.append(item) }
    }
}
