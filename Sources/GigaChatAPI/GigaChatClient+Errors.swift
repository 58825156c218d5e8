import CurlHTTP
import Foundation
import GigaChatProtocol
import Logging

/// How failures become `APIError`s: HTTP statuses (402 and stop events apart), transport errors, timeouts.
extension GigaChatClient {
    static func statusError(status: Int, message: String, retryAfter: Double?) -> APIError {
        if isStopEvent(status: status, message: message) {
            return APIError(
                .modelUnavailable, "the model is switched off for now (a GigaChat stop event); try later or another model: \(message)", status: status)
        }
        switch status {
        case 402:
            return APIError(.paymentRequired, "no tokens left for this model on this key (HTTP 402): \(message)", status: status)
        case 401:
            return APIError(.authentication, "GigaChat rejected the access token: \(message)", status: status)
        case 429:
            return APIError(.rateLimited, "GigaChat rate limit: \(message)", status: status, retryAfter: retryAfter)
        default:
            return APIError(.http, "GigaChat API error: \(message)", status: status, retryAfter: retryAfter)
        }
    }

    /// 423, or a 403 that says "temporarily unavailable due to technical reasons": the model is switched
    /// off, and retrying only adds load.
    static func isStopEvent(status: Int, message: String) -> Bool {
        status == 423 || (status == 403 && message.lowercased().contains("temporarily unavailable due to technical reasons"))
    }

    func transportError(_ error: CurlError, partial: JSONValue? = nil) -> APIError {
        Self.transportError(error, timeoutSeconds: configuration.timeoutSeconds, partial: partial)
    }

    static func transportError(_ error: CurlError, timeoutSeconds: Double, partial: JSONValue? = nil) -> APIError {
        var mapped = transportFailure(error, timeoutSeconds: timeoutSeconds, partial: partial)
        mapped.transportCause = error.cause
        return mapped
    }

    private static func transportFailure(_ error: CurlError, timeoutSeconds: Double, partial: JSONValue?) -> APIError {
        let suffix = partial == nil ? "" : "; the reply is partial"
        switch error.kind {
        case .cancelled:
            return APIError(.cancelled, "request cancelled")
        case .timedOut:
            return APIError(
                .timedOut,
                "GigaChat API did not answer for \(Durations.text(seconds: timeoutSeconds)) (GIGACHAT_TIMEOUT)\(suffix)",
                partial: partial
            )
        case .tlsVerification, .tlsOther:
            return APIError(
                .tls,
                "TLS failure talking to GigaChat: \(error.message). gigachatd trusts the system store and the Russian Trusted Root CA; "
                    + "add another CA with GIGACHAT_CA_BUNDLE_FILE",
                partial: partial
            )
        case .couldNotConnect:
            return APIError(.unavailable, "cannot reach GigaChat: \(error.message)", partial: partial)
        default:
            if partial != nil {
                return APIError(.truncated, "the connection to GigaChat broke off mid-reply (\(error.message))\(suffix)", partial: partial)
            }
            return APIError(.unavailable, "connection to GigaChat failed: \(error.message)")
        }
    }
}

extension APIError {
    func withKind(_ kind: Kind) -> APIError {
        var copy = self
        copy.kind = kind
        return copy
    }
}
