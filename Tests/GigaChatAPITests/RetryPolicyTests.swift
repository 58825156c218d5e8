import Testing

@testable import GigaChatAPI

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(maxRetries: 3, backoffFactorSeconds: 0.5, retryOnStatusCodes: [429, 500, 502, 503, 504], maxRetryAfterSeconds: 30)
    let now = 1_700_000_000.0

    @Test(arguments: ["", "abc", "inf", "-inf", "nan", "-5", "1.5", "1e3", "+3", " 7 x", "Sun, 06 Nov 1994 08:49:37"])
    func garbageRetryAfterIsTreatedAsAbsent(_ header: String) {
        #expect(RetryAfter.seconds(parsing: header, nowSeconds: now) == nil)
        // Absent: ordinary backoff, never a trap.
        guard case .retry(let seconds) = policy.decision(status: 429, retryAfterHeader: header, attempt: 0, nowSeconds: now, jitter: 0) else {
            Issue.record("expected a retry")
            return
        }
        #expect(seconds == 0.5)
    }

    @Test func deltaSecondsAreTakenAndSaturate() {
        #expect(RetryAfter.seconds(parsing: " 7 ", nowSeconds: now) == 7)
        #expect(RetryAfter.seconds(parsing: "99999999999999999999999999999", nowSeconds: now) == RetryAfter.maxSeconds)
        #expect(policy.decision(status: 429, retryAfterHeader: "2", attempt: 0, nowSeconds: now, jitter: 0) == .retry(afterSeconds: 2))
        #expect(
            policy.decision(status: 429, retryAfterHeader: "99999999999999999999", attempt: 0, nowSeconds: now, jitter: 0)
                == .failRetryAfterTooLong(retryAfter: RetryAfter.maxSeconds)
        )
    }

    @Test func httpDatesInAllThreeForms() {
        // 1994-11-06 08:49:37 GMT.
        let epoch = 784_111_777.0
        for form in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            #expect(HTTPDate.epochSeconds(parsing: form) == epoch, "\(form)")
            #expect(RetryAfter.seconds(parsing: form, nowSeconds: epoch - 3) == 3, "\(form)")
            #expect(RetryAfter.seconds(parsing: form, nowSeconds: epoch + 100) == 0, "a past date means now: \(form)")
        }
        #expect(HTTPDate.epochSeconds(parsing: "Sun, 32 Nov 1994 08:49:37 GMT") == nil)
        #expect(HTTPDate.epochSeconds(parsing: "Sun, 06 Nov 1994 25:49:37 GMT") == nil)
    }

    @Test func statusesOutsideTheListAndExhaustedRetriesFail() {
        #expect(policy.decision(status: 400, retryAfterHeader: nil, attempt: 0, nowSeconds: now, jitter: 0) == .fail(retryAfter: nil))
        #expect(policy.decision(status: 503, retryAfterHeader: "4", attempt: 3, nowSeconds: now, jitter: 0) == .fail(retryAfter: 4))
        #expect(policy.decision(connectionFailureRetryable: false, attempt: 0, jitter: 0) == .fail(retryAfter: nil))
        #expect(policy.decision(connectionFailureRetryable: true, attempt: 3, jitter: 0) == .fail(retryAfter: nil))
    }

    @Test func backoffDoublesAndIsCapped() {
        #expect(policy.backoff(attempt: 0, jitter: 0) == 0.5)
        #expect(policy.backoff(attempt: 2, jitter: 0) == 2)
        #expect(policy.backoff(attempt: 2, jitter: 1) == 2.5)
        #expect(policy.backoff(attempt: 1_000_000, jitter: 1) == RetryPolicy.maxBackoffSeconds)
        let huge = RetryPolicy(maxRetries: 10, backoffFactorSeconds: 60, retryOnStatusCodes: [], maxRetryAfterSeconds: 0)
        #expect(huge.backoff(attempt: 10, jitter: 1) == RetryPolicy.maxBackoffSeconds)
    }
}

@Suite struct FetchBudgetTests {
    @Test func allowsABurstThenPacesByTokenLifetime() {
        var budget = FetchBudget()
        for _ in 0..<4 { #expect(budget.take(nowMilliseconds: 1000) == 0) }
        // Before any token: one call per 5 s.
        #expect(budget.take(nowMilliseconds: 1000) == 5000)
        #expect(budget.take(nowMilliseconds: 6000) == 0)
        // Thirty-minute tokens: one call per 15 s at most.
        budget.noteLifetime(milliseconds: 1_800_000)
        #expect(budget.take(nowMilliseconds: 6000) == 15_000)
        // Short test tokens are not starved: half their lifetime, at least 0.5 s.
        budget.noteLifetime(milliseconds: 400)
        #expect(budget.take(nowMilliseconds: 6000) == 500)
    }
}
