import GigaChatAPI
import GigaChatProtocol

extension APIError {
    /// The one place where upstream failures become JSON-RPC errors (docs/PROTOCOL.md, "Errors").
    ///
    /// data.status is the API's HTTP status when it answered; data.partial is true when part of a reply
    /// had already been streamed, and data.result then holds that partial reply.
    var rpcError: RPCError {
        var data = JSONObject()
        if let status { data["status"] = .int(Int64(status)) }
        if let retryAfter { data["retry_after"] = .double(retryAfter) }
        if let partial {
            data["partial"] = true
            data["result"] = partial
        }
        let code: RPCErrorCode
        switch kind {
        case .authentication:
            code = .upstreamAuth
        case .rateLimited:
            code = .rateLimited
        case .http:
            code = .upstreamError
        case .unavailable:
            code = .upstreamUnavailable
            data["reason"] = "connect"
        case .tls:
            code = .upstreamUnavailable
            data["reason"] = "tls"
        case .timedOut:
            code = partial == nil ? .upstreamUnavailable : .upstreamProtocol
            data["reason"] = "timeout"
        case .truncated:
            code = .upstreamProtocol
            data["reason"] = "truncated"
        case .malformed:
            code = .upstreamProtocol
            data["reason"] = "malformed"
        case .notConfigured:
            code = .notConfigured
        case .cancelled:
            code = .requestCancelled
        case .paymentRequired:
            code = .paymentRequired
        case .modelUnavailable:
            code = .modelUnavailable
        }
        return RPCError(code, message, data: data.isEmpty ? nil : .object(data))
    }
}
