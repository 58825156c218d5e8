import Testing

@testable import GigaChatAPI

@Suite struct AccessTokenTests {
    /// Half an hour before the expiries below, as a real OAuth answer would be.
    let now: Int64 = 1_766_998_200_000

    @Test func readsTheStandardShape() throws {
        let token = try AccessToken.parse(Array(#"{"access_token":"abc","expires_at":1767000000000}"#.utf8), nowMilliseconds: now)
        #expect(token.value.exposedValue == "abc")
        #expect(token.expiresAtMilliseconds == 1_767_000_000_000)
    }

    @Test func readsTheShortShapeInSecondsOrMilliseconds() throws {
        let seconds = try AccessToken.parse(Array(#"{"tok":"t","exp":1767000000}"#.utf8), nowMilliseconds: now)
        #expect(seconds.expiresAtMilliseconds == 1_767_000_000_000)
        let milliseconds = try AccessToken.parse(Array(#"{"tok":"t","exp":1767000000123}"#.utf8), nowMilliseconds: now)
        #expect(milliseconds.expiresAtMilliseconds == 1_767_000_000_123)
    }

    @Test func anExpiryDecadesAheadIsClampedToAYear() throws {
        let token = try AccessToken.parse(Array(#"{"tok":"t","exp":9223372036854775807}"#.utf8), nowMilliseconds: now)
        #expect(token.expiresAtMilliseconds == now + AccessToken.maxLifetimeMilliseconds)
    }

    @Test(arguments: [#"{"expires_at":1}"#, #"{"access_token":"x"}"#, "<html>", #"{"tok":"","exp":5}"#])
    func refusesIncompleteAnswers(_ body: String) {
        #expect(throws: APIError.self) { try AccessToken.parse(Array(body.utf8), nowMilliseconds: 1) }
    }

    @Test func refreshesAheadOfExpiryButNotBeforeHalfItsLife() {
        let long = AccessToken(value: Secret("x"), expiresAtMilliseconds: 1_800_000, receivedAtMilliseconds: 0)
        #expect(long.refreshAtMilliseconds(buffer: 60_000) == 1_740_000)
        let short = AccessToken(value: Secret("x"), expiresAtMilliseconds: 2_000, receivedAtMilliseconds: 0)
        #expect(short.refreshAtMilliseconds(buffer: 60_000) == 1_000)
        #expect(short.isUsable(nowMilliseconds: 999, buffer: 60_000))
        #expect(!short.isUsable(nowMilliseconds: 1_000, buffer: 60_000))
        let preissued = AccessToken(value: Secret("x"), expiresAtMilliseconds: 0, receivedAtMilliseconds: 0)
        #expect(preissued.isUsable(nowMilliseconds: .max, buffer: 60_000))
    }

    @Test func neverPrintsTheSecret() {
        let secret = Secret("super-secret-key")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
    }
}
