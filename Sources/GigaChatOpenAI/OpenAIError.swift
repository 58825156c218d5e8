import GigaChatAPI
import GigaChatProtocol
import NIOHTTP1

/// An error in OpenAI's wire shape, `{"error":{"message","type","param","code"}}`, with the HTTP status the
/// `openai` package turns into the matching exception class (400 BadRequestError, 401 AuthenticationError,
/// 404 NotFoundError, 429 RateLimitError, 5xx InternalServerError).
struct OpenAIError: Error, Sendable, Equatable {
    var status: HTTPResponseStatus
    var message: String
    var type: String
    var param: String?
    var code: String?
    /// Seconds a rate-limited client should wait (sent as Retry-After).
    var retryAfter: Double?

    init(
        _ status: HTTPResponseStatus, _ message: String, type: String = "invalid_request_error", param: String? = nil, code: String? = nil,
        retryAfter: Double? = nil
    ) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    var json: JSONValue {
        [
            "error": [
                "message": .string(message),
                "type": .string(type),
                "param": param.map(JSONValue.string) ?? .null,
                "code": code.map(JSONValue.string) ?? .null,
            ]
        ]
    }

    // MARK: Local refusals

    static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> OpenAIError {
        OpenAIError(.badRequest, message, param: param, code: code)
    }

    /// Something OpenAI has that GigaChat cannot do: refused rather than silently ignored, so a caller never
    /// gets an answer to a different question than the one it asked.
    static func unsupported(_ message: String, param: String) -> OpenAIError {
        OpenAIError(.badRequest, message + " (see docs/OPENAI.md)", param: param, code: "unsupported_parameter")
    }

    static func notFound(_ message: String) -> OpenAIError {
        OpenAIError(.notFound, message, code: "not_found")
    }

    static let missingKey = OpenAIError(
        .unauthorized,
        "missing local key: send \"Authorization: Bearer <key>\" with the key from $XDG_CONFIG_HOME/gigachat/http-key "
            + "(gigachatd creates it; the Unix socket needs none)",
        code: "invalid_api_key"
    )
    static let wrongKey = OpenAIError(
        .unauthorized,
        "wrong local key: use the key in $XDG_CONFIG_HOME/gigachat/http-key (this is gigachatd's own key, not a GigaChat credential)",
        code: "invalid_api_key"
    )

    // MARK: Upstream failures

    /// The HTTP answer for a failure talking to GigaChat. The daemon already waited and retried where that
    /// was safe, so what reaches the client here is final.
    static func upstream(_ error: APIError) -> OpenAIError {
        let message = error.message
        switch error.kind {
        case .rateLimited:
            return OpenAIError(.tooManyRequests, message, type: "rate_limit_error", code: "rate_limit_exceeded", retryAfter: error.retryAfter)
        case .authentication:
            // Not 401: that would tell the caller its own key is wrong, when it is the daemon's credentials.
            return OpenAIError(.badGateway, message, type: "upstream_error", code: "upstream_authentication_failed")
        case .notConfigured:
            return OpenAIError(.serviceUnavailable, message, type: "server_error", code: "not_configured")
        case .unavailable, .tls:
            return OpenAIError(.badGateway, message, type: "server_error", code: "upstream_unavailable")
        case .timedOut:
            return OpenAIError(.gatewayTimeout, message, type: "server_error", code: "upstream_timeout")
        case .truncated, .malformed:
            return OpenAIError(.badGateway, message, type: "server_error", code: "upstream_protocol_error")
        case .paymentRequired:
            return OpenAIError(.paymentRequired, message, type: "insufficient_quota", code: "insufficient_quota")
        case .modelUnavailable:
            return OpenAIError(.serviceUnavailable, message, type: "server_error", code: "model_unavailable")
        case .cancelled:
            return OpenAIError(.init(statusCode: 499, reasonPhrase: "Client Closed Request"), message, type: "server_error", code: "cancelled")
        case .http:
            break
        }
        switch error.status ?? 502 {
        case 400, 422:
            return OpenAIError(.badRequest, message)
        case 401:
            return OpenAIError(.badGateway, message, type: "upstream_error", code: "upstream_authentication_failed")
        case 402:
            return OpenAIError(.paymentRequired, message, type: "insufficient_quota", code: "insufficient_quota")
        case 403:
            return OpenAIError(.forbidden, message, type: "permission_error", code: "permission_denied")
        case 404:
            return OpenAIError(.notFound, message, code: "not_found")
        case 413:
            return OpenAIError(.badRequest, message, code: "context_length_exceeded")
        case 423:
            return OpenAIError(.serviceUnavailable, message, type: "server_error", code: "model_unavailable")
        case 429:
            return OpenAIError(.tooManyRequests, message, type: "rate_limit_error", code: "rate_limit_exceeded", retryAfter: error.retryAfter)
        case 503:
            return OpenAIError(.serviceUnavailable, message, type: "server_error", code: "upstream_error")
        case 504:
            return OpenAIError(.gatewayTimeout, message, type: "server_error", code: "upstream_timeout")
        default:
            return OpenAIError(.badGateway, message, type: "server_error", code: "upstream_error")
        }
    }
}
