import CurlHTTP
import Foundation
import GigaChatProtocol
import Logging

/// Talks to the GigaChat REST API for the daemon: queues behind the upstream limit, authenticates,
/// retries what is safe to retry, and turns every failure into an `APIError`.
public final class GigaChatClient: Sendable {
    public let configuration: Configuration
    public let tokens: TokenManager
    public let limiter: UpstreamLimiter
    private let engine: CurlEngine
    private let tls: TLSOptions
    private let logger: Logger

    /// The current request's logger when there is one, else the client's own.
    private var log: Logger { RequestScope.current?.logger ?? logger }

    /// Largest non-streamed body accepted from the API.
    static let maxBodyBytes = 64 * 1024 * 1024
    /// Largest error body read for its message.
    static let maxErrorBodyBytes = 64 * 1024

    /// - Parameters:
    ///   - limiter: shared across configuration reloads, so the upstream limit holds throughout.
    ///   - tokens: the token manager of the client this one replaces, kept when its token source is
    ///     unchanged (a reload that did not touch the credentials keeps the token).
    public init(
        configuration: Configuration, engine: CurlEngine, limiter: UpstreamLimiter, logger: Logger, tokens: TokenManager? = nil,
        refreshesSoFar: Int = 0
    ) throws(ConfigurationError) {
        self.configuration = configuration
        self.engine = engine
        self.limiter = limiter
        self.logger = logger
        let tls = TLSOptions(
            caBundlePEM: try TrustStore.pemBundle(for: configuration),
            clientCertificatePath: configuration.certFile,
            clientKeyPath: configuration.keyFile,
            clientKeyPassword: configuration.keyFilePassword?.exposedValue
        )
        self.tls = tls

        let preissued = configuration.accessToken.map {
            AccessToken(value: $0, expiresAtMilliseconds: 0, receivedAtMilliseconds: TokenManager.nowMilliseconds())
        }
        var fetch: TokenManager.Fetch?
        switch (configuration.credentials, configuration.user, configuration.password) {
        case (let key?, _, _):
            let request = Self.oauthRequest(configuration: configuration, key: key, tls: tls)
            fetch = { () async throws(APIError) -> AccessToken in
                try await Self.fetchToken(engine: engine, request: request, what: "OAuth endpoint")
            }
        case (nil, let user?, let password?):
            let request = Self.passwordRequest(configuration: configuration, user: user, password: password, tls: tls)
            fetch = { () async throws(APIError) -> AccessToken in
                try await Self.fetchToken(engine: engine, request: request, what: "token endpoint")
            }
        default:
            fetch = nil
        }
        if let tokens {
            self.tokens = tokens
            return
        }
        self.tokens = TokenManager(
            preissued: preissued,
            fetch: fetch,
            bufferMilliseconds: configuration.tokenExpiryBufferMilliseconds,
            logger: logger,
            refreshes: refreshesSoFar
        )
    }

    // MARK: Calls

    /// A call whose answer is one JSON document.
    public func send(_ call: APICall) async throws(APIError) -> JSONValue {
        try await perform(call) { head, iterator in
            let body = try await Self.readBody(&iterator, limit: Self.maxBodyBytes)
            guard let json = try? JSONValue(parsing: body) else {
                throw APIError(.malformed, "the API answered \(call.path) with something that is not JSON", status: head.status)
            }
            RequestMetrics.current?.note(answer: json)
            return json
        }
    }

    /// A chat body with the configured defaults filled in, serialized: what a queued chat holds.
    public struct PreparedChat: Sendable {
        public var body: [UInt8]
        public var streaming: Bool
    }

    public func prepareChat(_ body: JSONObject, contract: APICall.Contract = .v1) -> PreparedChat {
        var body = body
        if body["model"] == nil { body["model"] = .string(configuration.model) }
        if let model = body["model"]?.stringValue {
            RequestMetrics.current?.update { if $0.modelRequested == nil { $0.modelRequested = model } }
        }
        if let profanity = configuration.profanityCheck {
            // v2 names the switch the other way round, as the SDK maps it.
            switch contract {
            case .v1: if body["profanity_check"] == nil { body["profanity_check"] = .bool(profanity) }
            case .v2Chat: if body["disable_filter"] == nil { body["disable_filter"] = .bool(!profanity) }
            }
        }
        if body["flags"] == nil, let flags = configuration.flags { body["flags"] = .array(flags.map(JSONValue.string)) }
        var bytes: [UInt8] = []
        JSONValue.object(body).write(into: &bytes)
        return PreparedChat(body: bytes, streaming: body["stream"]?.boolValue ?? false)
    }

    /// A call whose answer is raw bytes (a file's content), at most `limit` of them, with the answer's
    /// content type.
    public func download(_ call: APICall, limit: Int) async throws(APIError) -> (bytes: [UInt8], contentType: String?) {
        try await perform(call) { head, iterator in
            (try await Self.readBody(&iterator, limit: limit), head.header("Content-Type"))
        }
    }

    /// A v2 chat completion (`/v2/chat/completions`). With `"stream": true` in the body, `onEvents`
    /// receives each upstream read's events as they arrive; either way the result is the v2 non-stream
    /// response shape.
    public func chatV2(
        _ prepared: PreparedChat,
        sessionID: String?,
        onEvents: @escaping @Sendable ([ChatV2Event]) async throws -> Void
    ) async throws(APIError) -> JSONValue {
        var headers: [(name: String, value: String)] = []
        if let sessionID { headers.append(("X-Session-ID", sessionID)) }
        let call = APICall.v2Chat(body: prepared.body, headers: headers, streaming: prepared.streaming)
        guard prepared.streaming else { return try await send(call) }
        return try await perform(call) { head, iterator in
            try await Self.readChatStream(ChatV2Accumulator.self, head: head, iterator: &iterator, onOutput: onEvents)
        }
    }

    /// A chat completion. With `"stream": true` in the body, `onDelta` receives the reply as it arrives;
    /// either way the result is GigaChat's non-stream response shape.
    public func chat(
        _ prepared: PreparedChat,
        sessionID: String?,
        onDelta: @escaping @Sendable ([ChatDelta]) async throws -> Void
    ) async throws(APIError) -> JSONValue {
        let streaming = prepared.streaming
        var headers: [(name: String, value: String)] = []
        if let sessionID { headers.append(("X-Session-ID", sessionID)) }
        let call = APICall(.post, APIPath.chat, body: .jsonBytes(prepared.body), headers: headers, streaming: streaming)
        guard streaming else { return try await send(call) }
        return try await perform(call) { head, iterator in
            try await Self.readChatStream(ChatStreamAccumulator.self, head: head, iterator: &iterator, onOutput: onDelta)
        }
    }

    // MARK: The request cycle

    /// Runs `call` holding an upstream slot, with the token, 401 refresh-and-retry-once, and bounded
    /// retries of 429/5xx/connection failures that happen before any reply byte was used.
    ///
    /// `consume` reads a 2xx reply. It throws a raw `CurlError` only while it has passed nothing on,
    /// which is what makes a retry safe; once it has, it throws `APIError` with the partial reply.
    func perform<T: Sendable>(
        _ call: APICall,
        consume: (HTTPResponseHead, inout HTTPTransfer.AsyncIterator) async throws -> T
    ) async throws(APIError) -> T {
        do {
            return try await limiter.withPermit { () async throws -> T in
                try await attempts(call, consume: consume)
            }
        } catch let error as APIError {
            throw error
        } catch is CancellationError {
            throw APIError(.cancelled, "request cancelled while waiting for its turn")
        } catch {
            throw APIError(.malformed, "unexpected failure: \(error)")
        }
    }

    private var retryPolicy: RetryPolicy {
        RetryPolicy(
            maxRetries: configuration.maxRetries,
            backoffFactorSeconds: configuration.retryBackoffFactor,
            retryOnStatusCodes: configuration.retryOnStatusCodes,
            maxRetryAfterSeconds: configuration.maxRetryAfterSeconds
        )
    }

    private func attempts<T: Sendable>(
        _ call: APICall,
        consume: (HTTPResponseHead, inout HTTPTransfer.AsyncIterator) async throws -> T
    ) async throws(APIError) -> T {
        let policy = retryPolicy
        var attempt = 0
        var refreshedAfter401 = false
        let metrics = RequestMetrics.current
        let upstreamStarted = ContinuousClock.now
        metrics?.update { $0.endpoint = call.path }
        defer {
            let elapsed = ContinuousClock.now - upstreamStarted
            metrics?.update { $0.upstream += elapsed }
        }
        while true {
            let token = try await tokens.token()
            if token == nil, configuration.authentication == .none, configuration.certFile == nil {
                throw APIError(
                    .notConfigured,
                    "no credentials are configured: set GIGACHAT_CREDENTIALS (or GIGACHAT_USER/GIGACHAT_PASSWORD, GIGACHAT_ACCESS_TOKEN) and reload"
                )
            }
            var iterator = engine.perform(request(for: call, token: token)).makeAsyncIterator()
            var waitSeconds = 0.0
            do {
                guard case .head(let head)? = try await iterator.next() else {
                    throw APIError(.malformed, "the API closed the connection without a response")
                }
                if head.status == 401, !refreshedAfter401, tokens.canRefresh, let token {
                    refreshedAfter401 = true
                    await tokens.invalidate(token)
                    log.info("API answered 401; refreshing the token and retrying once", metadata: ["path": "\(call.path)"])
                    continue
                }
                if (200..<300).contains(head.status) {
                    return try await consume(head, &iterator)
                }
                let errorBody = (try? await Self.readBody(&iterator, limit: Self.maxErrorBodyBytes)) ?? []
                let message = ErrorBody.message(status: head.status, body: errorBody)
                let neverRetried = head.status == 402 || Self.isStopEvent(status: head.status, message: message)
                let decision =
                    neverRetried
                    ? .fail(retryAfter: nil)
                    : policy.decision(
                        status: head.status,
                        retryAfterHeader: head.header("Retry-After"),
                        attempt: attempt,
                        nowSeconds: Double(TokenManager.nowMilliseconds()) / 1000,
                        jitter: Double.random(in: 0...1)
                    )
                switch decision {
                case .retry(let seconds):
                    waitSeconds = seconds
                    log.notice("API answered \(head.status); retrying", metadata: ["path": "\(call.path)", "attempt": "\(attempt + 1)"])
                case .fail(let retryAfter):
                    throw Self.statusError(status: head.status, message: message, retryAfter: retryAfter)
                case .failRetryAfterTooLong(let retryAfter):
                    throw APIError(
                        .rateLimited,
                        "GigaChat rate limit: the API asks to wait \(Durations.text(seconds: retryAfter)), more than the "
                            + "\(Durations.text(seconds: configuration.maxRetryAfterSeconds)) gigachatd waits (GIGACHATD_MAX_RETRY_AFTER): \(message)",
                        status: 429, retryAfter: retryAfter
                    )
                }
            } catch let error as CurlError {
                if error.kind == .cancelled { throw APIError(.cancelled, "request cancelled") }
                let retryable: Bool
                switch error.kind {
                case .couldNotConnect, .connectionReset, .recvError, .sendError: retryable = true
                default: retryable = false
                }
                let decision = policy.decision(connectionFailureRetryable: retryable, attempt: attempt, jitter: Double.random(in: 0...1))
                guard case .retry(let seconds) = decision else { throw transportError(error) }
                waitSeconds = seconds
                log.notice("API connection failed; retrying", metadata: ["path": "\(call.path)", "error": "\(error.message)"])
            } catch let error as APIError {
                throw error
            } catch {
                throw APIError(.malformed, "unexpected failure: \(error)")
            }
            attempt += 1
            metrics?.update { $0.retries += 1 }
            do {
                try await Task.sleep(for: Durations.from(seconds: waitSeconds))
            } catch {
                throw APIError(.cancelled, "request cancelled while waiting to retry")
            }
        }
    }

    // MARK: Requests

    private func request(for call: APICall, token: AccessToken?) -> HTTPRequest {
        var headers: [(name: String, value: String)] = [("User-Agent", Configuration.userAgent)]
        if let token { headers.append(("Authorization", "Bearer \(token.value.exposedValue)")) }
        var body = HTTPRequest.Body.none
        switch call.body {
        case .none:
            break
        case .json(let json):
            var bytes: [UInt8] = []
            json.write(into: &bytes)
            body = .bytes(bytes)
            headers.append(("Content-Type", "application/json"))
        case .jsonBytes(let bytes):
            body = .bytes(bytes)
            headers.append(("Content-Type", "application/json"))
        case .bytes(let bytes, let contentType):
            body = .bytes(bytes)
            headers.append(("Content-Type", contentType))
        case .multipart(let parts):
            body = .multipart(parts)
        }
        if call.streaming {
            headers.append(("Accept", "text/event-stream"))
            headers.append(("Cache-Control", "no-store"))
        } else {
            headers.append(("Accept", "application/json"))
        }
        headers.append(contentsOf: call.headers)
        return HTTPRequest(
            method: call.method,
            url: call.contract == .v2Chat ? configuration.v2ChatURL : configuration.url(path: call.path),
            headers: headers,
            body: body,
            tls: tls,
            timeoutSeconds: configuration.timeoutSeconds
        )
    }

}
