import GigaChatProtocol
import Testing

@testable import GigaChatDaemon

@Suite struct ConnectionRequestsTests {
    /// A request body that runs until its task is cancelled.
    private static let untilCancelled: @Sendable (UInt64) async -> Void = { _ in
        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
    }

    @Test func cancelAnswersTrueOnlyWhileTheResultIsUndecided() async {
        let requests = ConnectionRequests()
        let keys = KeyBox()
        #expect(
            await requests.start(.int(1), limit: 8) { key in
                await keys.set(key)
                await Self.untilCancelled(key)
            } == .started)
        let key = await keys.wait()
        #expect(await requests.cancel(.int(1)))
        #expect(await requests.cancel(.int(1)), "asking twice still means -32800")
        #expect(await requests.finish(key) == .cancelled)
        #expect(await !requests.cancel(.int(1)), "decided: nothing left to cancel")
        #expect(await !requests.cancel(.int(2)), "never ran")
        await requests.waitForAll()
    }

    @Test func theIDIsFreeOnceTheResultIsDecided() async {
        let requests = ConnectionRequests()
        let keys = KeyBox()
        _ = await requests.start(.string("a"), limit: 8) { key in
            await keys.set(key)
            await Self.untilCancelled(key)
        }
        let key = await keys.wait()
        #expect(await requests.start(.string("a"), limit: 8) { _ in } == .duplicateID)
        #expect(await requests.finish(key) == nil)
        #expect(await requests.start(.string("a"), limit: 8) { _ in } == .started, "reusable before the first task has ended")
        await requests.cancelAll()
        await requests.waitForAll()
    }

    @Test func aConnectionRunsAtMostItsLimit() async {
        let requests = ConnectionRequests()
        for id in 0..<3 { #expect(await requests.start(.int(Int64(id)), limit: 3, Self.untilCancelled) == .started) }
        #expect(await requests.start(.int(9), limit: 3, Self.untilCancelled) == .tooMany(limit: 3))
        #expect(await requests.start(nil, limit: 3, Self.untilCancelled) == .tooMany(limit: 3), "notifications count too")
        await requests.cancelAll()
        await requests.waitForAll()
        #expect(await requests.count == 0)
    }

    @Test func aDeadlineOrAStallEndsARequestOnceWithItsReason() async {
        let requests = ConnectionRequests()
        let keys = KeyBox()
        _ = await requests.start(.int(1), limit: 8) { key in
            await keys.set(key)
            await Self.untilCancelled(key)
        }
        let key = await keys.wait()
        #expect(await requests.end(key, .deadline))
        await requests.endAllForStall()
        #expect(await !requests.cancel(.int(1)), "already ended by its deadline: it will not answer -32800")
        #expect(await requests.finish(key) == .deadline)
        await requests.waitForAll()
    }

    actor KeyBox {
        private var key: UInt64?
        func set(_ value: UInt64) { key = value }
        func wait() async -> UInt64 {
            while key == nil { await Task.yield() }
            return key ?? 0
        }
    }
}

@Suite struct RequestAdmissionTests {
    @Test func refusesPastTheCountAndTheBytesAndAdmitsAgainAfterARelease() async {
        let admission = RequestAdmission()
        #expect(await admission.admit(lineBytes: 600, maxRequests: 2, maxBytes: 1000) == nil)
        let bytes = await admission.admit(lineBytes: 600, maxRequests: 2, maxBytes: 1000)
        #expect(bytes?.code == .tooManyRequests)
        #expect(bytes?.data?["setting"] == "GIGACHATD_MAX_PENDING_BYTES")
        #expect(await admission.admit(lineBytes: 10, maxRequests: 2, maxBytes: 1000) == nil)
        let count = await admission.admit(lineBytes: 10, maxRequests: 2, maxBytes: 1000)
        #expect(count?.data?["setting"] == "GIGACHATD_MAX_REQUESTS")
        await admission.release(lineBytes: 600)
        #expect(await admission.admit(lineBytes: 10, maxRequests: 2, maxBytes: 1000) == nil)
    }

    @Test func oneRequestLargerThanTheByteCapIsAdmittedWhenNothingElseIsHeld() async {
        // Its line already passed GIGACHATD_MAX_LINE_BYTES; refusing it would refuse it forever.
        let admission = RequestAdmission()
        #expect(await admission.admit(lineBytes: 5000, maxRequests: 2, maxBytes: 1000) == nil)
    }
}

@Suite struct RequestParamsTests {
    @Test func paramsAreHandedOverOnceAndTheReaderWaitsForThem() async {
        let params = RequestParams(["a": 1])
        let waiter = Task { await params.waitUntilConsumed() }
        #expect(params.take() == ["a": 1])
        #expect(params.take().isEmpty)
        params.markConsumed()
        await waiter.value
        await params.waitUntilConsumed()  // returns at once afterwards
    }
}
