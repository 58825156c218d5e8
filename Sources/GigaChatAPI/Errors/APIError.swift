import GigaChatProtocol

/// A failure talking to GigaChat, with the context a person needs: the HTTP status, the API's own message,
/// what was already streamed. Turned into a JSON-RPC error in one place at the daemon's edge.
public struct APIError: ErrorShape {
    public enum Kind: Sendable, Equatable {
        /// The OAuth endpoint refused the credentials, or the API kept answering 401.
        case authentication
        /// 429 that waiting could not fix.
        case rateLimited
        /// Any other HTTP error status from the API.
        case http
        /// The API could not be reached or the connection failed before the reply started.
        case unavailable
        /// A TLS problem: untrusted certificate, wrong host name, bad client certificate.
        case tls
        /// No bytes for GIGACHAT_TIMEOUT seconds.
        case timedOut
        /// The reply broke off after it had started (reset mid-stream, no [DONE]).
        case truncated
        /// The reply could not be understood (bad JSON, unexpected content type).
        case malformed
        /// Nothing to authenticate with.
        case notConfigured
        /// The request was cancelled by its client.
        case cancelled
        /// HTTP 402: no tokens left for this model on this key.
        case paymentRequired
        /// A stop event: the model is switched off for now (423, or 403 "temporarily unavailable").
        case modelUnavailable
    }

    public var kind: Kind
    public var message: String
    /// The API's HTTP status, when it answered.
    public var status: Int?
    /// Seconds the API asked us to wait (429).
    public var retryAfter: Double?
    /// What had already been streamed to the client when the reply broke off.
    public var partial: JSONValue?
    /// The transfer's failure underneath, when it was not an HTTP answer.
    public var transportCause: ErrorCause?

    /// The HTTP status the API answered, or what failed the transfer.
    public var cause: ErrorCause? { status.map(ErrorCause.httpStatus) ?? transportCause }

    public init(_ kind: Kind, _ message: String, status: Int? = nil, retryAfter: Double? = nil, partial: JSONValue? = nil) {
        self.kind = kind
        self.message = message
        self.status = status
        self.retryAfter = retryAfter
        self.partial = partial
    }

    public var description: String {
        if let status { return "\(message) (HTTP \(status))" }
        return message
    }
}
