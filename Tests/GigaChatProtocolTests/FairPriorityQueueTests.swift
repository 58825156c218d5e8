import Testing

@testable import GigaChatProtocol

@Suite struct PriorityQueueTests {
    @Test func interactiveGoesFirstButBatchGetsOneTurnInEveryFivePlusOne() {
        var queue = FairPriorityQueue<String>(starvationBound: 4)
        for index in 0..<3 { queue.enqueue("b\(index)", owner: 1, priority: .batch) }
        for index in 0..<10 { queue.enqueue("i\(index)", owner: 2, priority: .interactive) }
        var order: [String] = []
        while let next = queue.dequeue() { order.append(next) }
        #expect(order == ["i0", "i1", "i2", "i3", "b0", "i4", "i5", "i6", "i7", "b1", "i8", "i9", "b2"])
        #expect(queue.isEmpty)
    }

    @Test func batchIsNeverStarvedUnderEndlessInteractiveLoad() {
        var queue = FairPriorityQueue<Int>(starvationBound: 3)
        queue.enqueue(-1, owner: 9, priority: .batch)
        var served = 0
        var next = 0
        // Interactive work keeps arriving faster than it is served.
        while true {
            queue.enqueue(next, owner: 1, priority: .interactive)
            queue.enqueue(next + 1, owner: 1, priority: .interactive)
            next += 2
            served += 1
            if queue.dequeue() == -1 { break }
            #expect(served <= 4, "the batch request waited more than its bound")
            if served > 4 { break }
        }
        #expect(served == 4)
    }

    @Test func normalSitsBetweenAndEveryLowerClassStillMoves() {
        var queue = FairPriorityQueue<String>(starvationBound: 2)
        for index in 0..<6 { queue.enqueue("i\(index)", owner: 1, priority: .interactive) }
        for index in 0..<2 { queue.enqueue("n\(index)", owner: 2, priority: .normal) }
        for index in 0..<2 { queue.enqueue("b\(index)", owner: 3, priority: .batch) }
        #expect(queue.nextPriority() == .interactive)
        var order: [String] = []
        while let next = queue.dequeue() { order.append(next) }
        #expect(order == ["i0", "i1", "n0", "b0", "i2", "i3", "n1", "b1", "i4", "i5"])
    }

    @Test func withinAClassOwnersTakeTurnsAndKeepTheirOrder() {
        var queue = FairPriorityQueue<String>()
        for index in 0..<4 { queue.enqueue("a\(index)", owner: 1, priority: .batch) }
        queue.enqueue("b0", owner: 2, priority: .batch)
        queue.enqueue("b1", owner: 2, priority: .batch)
        queue.enqueue("c0", owner: 3, priority: .batch)
        var order: [String] = []
        while let next = queue.dequeue() { order.append(next) }
        #expect(order == ["a0", "b0", "c0", "a1", "b1", "a2", "a3"])
    }

    @Test func aCancelledEntryLeavesTheQueue() {
        var queue = FairPriorityQueue<String>()
        let first = queue.enqueue("a0", owner: 1, priority: .normal)
        queue.enqueue("a1", owner: 1, priority: .normal)
        let lone = queue.enqueue("b0", owner: 2, priority: .interactive)
        #expect(queue.count == 3)
        #expect(queue.remove(lone) == "b0")
        #expect(queue.remove(lone) == nil, "only once")
        #expect(queue.remove(first) == "a0")
        #expect(queue.count(of: .interactive) == 0)
        #expect(queue.dequeue() == "a1")
        #expect(queue.dequeue() == nil)
        #expect(queue.nextPriority() == nil)
    }

    @Test func parsesThePriorityParam() throws {
        #expect(try Priority.parse(nil) == .normal)
        #expect(try Priority.parse(.null) == .normal)
        #expect(try Priority.parse("interactive") == .interactive)
        #expect(try Priority.parse("batch") == .batch)
        #expect(throws: RPCError.self) { try Priority.parse("urgent") }
        #expect(throws: RPCError.self) { try Priority.parse(1) }
        #expect(Priority.interactive > .normal && Priority.normal > .batch)
    }
}
