import Foundation
import Logging

/// The one owner of the access token.
///
/// It fetches a token in the background at start-up, replaces it ahead of expiry, and makes exactly one
/// OAuth call however many requests ask at once (single flight): the OAuth host answers 429 to parallel
/// refreshes. A failed background refresh is retried with exponential backoff; requests that need a token
/// meanwhile get the failure as a clear error.
public actor TokenManager {
    /// Fetches a fresh token from the OAuth or /token endpoint.
    public typealias Fetch = @Sendable () async throws(APIError) -> AccessToken

    private let fetch: Fetch?
    private let bufferMilliseconds: Int64
    private let logger: Logger
    private var current: AccessToken?
    private var inflight: Task<Result<AccessToken, APIError>, Never>?
    private var refresher: Task<Void, Never>?

    /// Successful fetches so far.
    public private(set) var refreshes = 0
    /// The last fetch failure, cleared by a success. Never holds a secret.
    public private(set) var lastError: String?

    /// - Parameters:
    ///   - preissued: a token to use until the API rejects it (GIGACHAT_ACCESS_TOKEN).
    ///   - fetch: how to get a new token; nil when there is nothing to refresh with.
    public init(preissued: AccessToken?, fetch: Fetch?, bufferMilliseconds: Int64, logger: Logger) {
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

    /// Fetches now, joining a fetch already under way.
    @discardableResult
    public func refresh() async throws(APIError) -> AccessToken {
        if let inflight {
            // Joiners finish the bookkeeping too: whoever resumes first must not see a stale `current`.
            let result = await inflight.value
            settle(inflight, result)
            return try result.get()
        }
        guard let fetch else { throw APIError(.notConfigured, "no credentials to fetch an access token with") }
        let task = Task<Result<AccessToken, APIError>, Never> {
            do throws(APIError) {
                return .success(try await fetch())
            } catch {
                return .failure(error)
            }
        }
        inflight = task
        let result = await task.value
        settle(task, result)
        return try result.get()
    }

    private func settle(_ task: Task<Result<AccessToken, APIError>, Never>, _ result: Result<AccessToken, APIError>) {
        guard inflight == task else { return }
        inflight = nil
        switch result {
        case .success(let token):
            current = token
            refreshes += 1
            lastError = nil
            logger.info("access token refreshed", metadata: ["valid_until_ms": "\(token.expiresAtMilliseconds)"])
        case .failure(let error):
            lastError = error.description
            logger.warning("access token refresh failed", metadata: ["error": "\(error.description)"])
        }
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
