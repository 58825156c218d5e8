import Logging
import Testing

@testable import GigaChatAPI

@Suite struct TokenManagerTests {
    actor Counter {
        private(set) var count = 0
        func increment() -> Int {
            count += 1
            return count
        }
    }

    @Test func makesOneCallForManyConcurrentRequests() async throws {
        let calls = Counter()
        let manager = TokenManager(
            preissued: nil,
            fetch: { () async throws(APIError) -> AccessToken in
                let n = await calls.increment()
                try? await Task.sleep(for: .milliseconds(100))
                return AccessToken(
                    value: Secret("t\(n)"), expiresAtMilliseconds: TokenManager.nowMilliseconds() + 600_000,
                    receivedAtMilliseconds: TokenManager.nowMilliseconds())
            }, bufferMilliseconds: 60_000, logger: Logger(label: "test"))
        let tokens = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<50 { group.addTask { try await manager.token()?.value.exposedValue } }
            var all: [String?] = []
            for try await token in group { all.append(token) }
            return all
        }
        #expect(await calls.count == 1)
        #expect(Set(tokens) == ["t1"])
    }

    @Test func replacesARejectedTokenOnce() async throws {
        let calls = Counter()
        let manager = TokenManager(
            preissued: nil,
            fetch: { () async throws(APIError) -> AccessToken in
                let n = await calls.increment()
                return AccessToken(
                    value: Secret("t\(n)"), expiresAtMilliseconds: TokenManager.nowMilliseconds() + 600_000,
                    receivedAtMilliseconds: TokenManager.nowMilliseconds())
            }, bufferMilliseconds: 60_000, logger: Logger(label: "test"))
        let first = try #require(try await manager.token())
        await manager.invalidate(first)
        await manager.invalidate(first)  // a second 401 for the same token must not cost another call
        let second = try #require(try await manager.token())
        #expect(second.value.exposedValue == "t2")
        await manager.invalidate(first)  // stale: already replaced
        #expect(try await manager.token()?.value.exposedValue == "t2")
        #expect(await calls.count == 2)
    }

    @Test func reportsFailuresAndRecovers() async throws {
        let calls = Counter()
        let manager = TokenManager(
            preissued: nil,
            fetch: { () async throws(APIError) -> AccessToken in
                if await calls.increment() == 1 { throw APIError(.unavailable, "OAuth endpoint down") }
                return AccessToken(
                    value: Secret("ok"), expiresAtMilliseconds: TokenManager.nowMilliseconds() + 600_000,
                    receivedAtMilliseconds: TokenManager.nowMilliseconds())
            }, bufferMilliseconds: 60_000, logger: Logger(label: "test"))
        await #expect(throws: APIError.self) { try await manager.token() }
        #expect(await manager.lastError?.contains("OAuth endpoint down") == true)
        #expect(try await manager.token()?.value.exposedValue == "ok")
        #expect(await manager.lastError == nil)
    }
}
