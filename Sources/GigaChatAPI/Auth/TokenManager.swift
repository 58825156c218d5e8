import Foundation
import Logging

/// The one owner of the access token.
///
/// It fetches a token in the background at start-up, replaces it ahead of expiry, and makes exactly one
/// OAuth call however many requests ask at once (single flight): the OAuth host answers 429 to parallel
/// refreshes. A failed background refresh is retried with exponential backoff; requests that need a token
/// meanwhile get the failure as a clear error.
///
/// OAuth calls are also rate-limited (``FetchBudget``), and a token that arrives already expired (a wrong
/// clock on either side) is used for a minute anyway, so no answer the endpoint gives can make the daemon
/// call it in a loop.
public actor TokenManager {
    /// Fetches a fresh token from the OAuth or /token endpoint.
    public typealias Fetch = @Sendable () async throws(APIError) -> AccessToken

    /// A token that arrives with less lifetime than this is treated as having `assumedLifetimeMilliseconds`.
    static let minimumLifetimeMilliseconds: Int64 = 1000
    static let assumedLifetimeMilliseconds: Int64 = 60_000

    private let fetch: Fetch?
    private let bufferMilliseconds: Int64
    private let logger: Logger
    private var current: AccessToken?
    private var inflight: Task<Void, Never>?
    private var waiters: [UInt64: CheckedContinuation<Result<AccessToken, APIError>, Never>] = [:]
    private var nextWaiterID: UInt64 = 0
    private var refresher: Task<Void, Never>?
    private var budget = FetchBudget()
    private var warnedAboutExpiredToken = false

    /// Successful fetches so far.
    public private(set) var refreshes = 0
    /// The last fetch failure, cleared by a success. Never holds a secret.
    public private(set) var lastError: String?

    /// - Parameters:
    ///   - preissued: a token to use until the API rejects it (GIGACHAT_ACCESS_TOKEN).
    ///   - fetch: how to get a new token; nil when there is nothing to refresh with.
    ///   - refreshes: fetches made before (by the manager this one replaces on reload), so the count
    ///     `status` shows covers the daemon's whole run.
    public init(preissued: AccessToken?, fetch: Fetch?, bufferMilliseconds: Int64, logger: Logger, refreshes: Int = 0) {
        self.refreshes = refreshes
        self.current = preissued
        self.fetch = fetch
        self.bufferMilliseconds = bufferMilliseconds
        self.logger = logger
    }

    /// Whether a rejected token can be replaced.
    public nonisolated var canRefresh: Bool { fetch != nil }

    /// Until when the current token is valid (epoch ms; nil when none, 0 when unknown).
    public var validUntilMilliseconds: Int64? { current?.expiresAtMilliseconds }

    public static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// A usable token, fetching one if needed; nil when the daemon authenticates without tokens (mTLS).
    public func token() async throws(APIError) -> AccessToken? {
        if let current, current.isUsable(nowMilliseconds: Self.nowMilliseconds(), buffer: bufferMilliseconds) {
            return current
        }
        guard fetch != nil else {
            if current == nil, lastError == nil { return nil }
            return current
        }
        return try await refresh()
    }

    /// Drops `token` after the API rejected it, so the next `token()` fetches a new one. A token that was
    /// already replaced by a concurrent refresh is left alone.
    public func invalidate(_ token: AccessToken) {
        guard fetch != nil, current == token else { return }
        current = nil
    }

    /// Starts the background loop that keeps a fresh token ready.
    public func start() {
        guard fetch != nil, refresher == nil else { return }
        refresher = Task { [weak self] in await self?.refreshLoop() }
    }

    /// Stops the background loop (shutdown or configuration reload).
    public func stop() {
        refresher?.cancel()
        refresher = nil
    }

    /// Fetches now, joining a fetch already under way. A caller whose task is cancelled stops waiting at
    /// once (the fetch goes on for the others).
    @discardableResult
    public func refresh() async throws(APIError) -> AccessToken {
        guard let fetch else { throw APIError(.notConfigured, "no credentials to fetch an access token with") }
        if inflight == nil {
            inflight = Task {
                await self.waitForBudget()
                let result: Result<AccessToken, APIError>
                do throws(APIError) {
                    result = .success(try await fetch())
                } catch {
                    result = .failure(error)
                }
                self.settle(result)
            }
        }
        nextWaiterID += 1
        let id = nextWaiterID
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<AccessToken, APIError>, Never>) in
                waiters[id] = continuation
                if Task.isCancelled { cancelWaiter(id) }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
        return try result.get()
    }

    private func cancelWaiter(_ id: UInt64) {
        waiters.removeValue(forKey: id)?.resume(returning: .failure(APIError(.cancelled, "request cancelled while waiting for an access token")))
    }

    /// Waits until the budget allows another OAuth call, and takes it.
    private func waitForBudget() async {
        while true {
            let wait = budget.take(nowMilliseconds: Self.nowMilliseconds())
            guard wait > 0 else { return }
            logger.debug("pacing OAuth calls", metadata: ["wait_ms": "\(wait)"])
            try? await Task.sleep(for: .milliseconds(wait))
        }
    }

    private func settle(_ result: Result<AccessToken, APIError>) {
        inflight = nil
        var outcome = result
        switch result {
        case .success(var token):
            let now = Self.nowMilliseconds()
            if token.expiresAtMilliseconds - token.receivedAtMilliseconds < Self.minimumLifetimeMilliseconds {
                if !warnedAboutExpiredToken {
                    warnedAboutExpiredToken = true
                    logger.warning(
                        "the token endpoint returned a token that is already expired; is the clock right? using it for a minute",
                        metadata: ["expires_at_ms": "\(token.expiresAtMilliseconds)", "now_ms": "\(now)"]
                    )
                }
                token.receivedAtMilliseconds = now
                token.expiresAtMilliseconds = now + Self.assumedLifetimeMilliseconds
                outcome = .success(token)
            }
            budget.noteLifetime(milliseconds: token.expiresAtMilliseconds - token.receivedAtMilliseconds)
            current = token
            refreshes += 1
            lastError = nil
            logger.info("access token refreshed", metadata: ["valid_until_ms": "\(token.expiresAtMilliseconds)"])
        case .failure(let error):
            lastError = error.description
            logger.warning("access token refresh failed", metadata: ["error": "\(error.description)"])
        }
        let resumed = waiters
        waiters = [:]
        for continuation in resumed.values { continuation.resume(returning: outcome) }
    }

    private func refreshLoop() async {
        var backoffSeconds = 1.0
        while !Task.isCancelled {
            let now = Self.nowMilliseconds()
            if let current {
                guard let refreshAt = current.refreshAtMilliseconds(buffer: bufferMilliseconds) else { return }
                if now < refreshAt {
                    try? await Task.sleep(for: .milliseconds(refreshAt - now))
                    continue  // re-check: a request may have refreshed meanwhile
                }
            }
            do {
                try await refresh()
                backoffSeconds = 1
            } catch {
                let delay = backoffSeconds * Double.random(in: 0.8...1.2)
                backoffSeconds = min(backoffSeconds * 2, 60)
                try? await Task.sleep(for: .seconds(delay))
            }
        }
    }
}

/// A token bucket for OAuth calls: a burst of `capacity`, then one per refill interval, which follows the
/// lifetime of the tokens the endpoint issues (half of it, within 0.5–15 s). Real 30-minute tokens so
/// allow four calls a minute at most; short-lived test tokens are not starved.
struct FetchBudget: Sendable {
    static let capacity = 4.0
    static let refillRange: ClosedRange<Int64> = 500...15_000
    static let initialRefillMilliseconds: Int64 = 5000

    private var available = FetchBudget.capacity
    private var refillMilliseconds = FetchBudget.initialRefillMilliseconds
    private var lastRefill: Int64?

    /// Takes one call if available (returns 0); otherwise how long to wait before asking again.
    mutating func take(nowMilliseconds now: Int64) -> Int64 {
        if let lastRefill, now > lastRefill {
            available = min(Self.capacity, available + Double(now - lastRefill) / Double(refillMilliseconds))
        }
        lastRefill = now
        if available >= 1 {
            available -= 1
            return 0
        }
        return max(1, Int64(((1 - available) * Double(refillMilliseconds)).rounded(.up)))
    }

    mutating func noteLifetime(milliseconds: Int64) {
        refillMilliseconds = min(max(milliseconds / 2, Self.refillRange.lowerBound), Self.refillRange.upperBound)
    }
}
