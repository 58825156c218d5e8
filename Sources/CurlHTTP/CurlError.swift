internal import CCurl
import GigaChatProtocol

/// A failed transfer: the libcurl result code, its message, and a coarse classification.
public struct CurlError: ErrorShape {
    /// Coarse classes of failure, so callers can decide on retries without knowing libcurl codes.
    public enum Kind: Sendable, Equatable {
        /// The consumer cancelled or dropped the transfer, or the engine was shut down.
        case cancelled
        /// Connecting took too long, or the response went silent for longer than the request's timeout.
        case timedOut
        /// Name resolution or the TCP connection failed.
        case couldNotConnect
        /// The peer's certificate was rejected, or a certificate/CA file could not be used.
        case tlsVerification
        /// Any other TLS failure (handshake, cipher, engine).
        case tlsOther
        /// The server closed the connection without a complete response.
        case connectionReset
        /// Reading from the network failed.
        case recvError
        /// Writing to the network failed.
        case sendError
        case other
    }

    /// The `CURLcode`.
    public var code: Int32
    public var message: String
    public var kind: Kind
    /// Body bytes delivered to the consumer before the failure.
    public var bytesReceived: Int

    public init(code: Int32, message: String, kind: Kind, bytesReceived: Int = 0) {
        self.code = code
        self.message = message
        self.kind = kind
        self.bytesReceived = bytesReceived
    }

    public var cause: ErrorCause? { .curl(code) }

    public var description: String {
        "CurlError(\(kind), code \(code)): \(message)"
    }

    static func cancelled(_ reason: String) -> CurlError {
        CurlError(code: Int32(CURLE_ABORTED_BY_CALLBACK.rawValue), message: reason, kind: .cancelled)
    }

    static func invalidRequest(_ reason: String) -> CurlError {
        CurlError(code: Int32(CURLE_BAD_FUNCTION_ARGUMENT.rawValue), message: reason, kind: .other)
    }

    static func silence(seconds: Double) -> CurlError {
        CurlError(
            code: Int32(CURLE_OPERATION_TIMEDOUT.rawValue),
            message: "No response data for \(seconds) seconds",
            kind: .timedOut
        )
    }

    /// Combines libcurl's generic text for `code` with the transfer-specific detail from the error buffer.
    init(curlCode: CURLcode, detail: String = "") {
        let generic = curl_easy_strerror(curlCode).map { String(cString: $0) } ?? "libcurl error"
        let message = detail.isEmpty || detail == generic ? generic : "\(generic): \(detail)"
        self.init(code: Int32(curlCode.rawValue), message: message, kind: Self.kind(of: curlCode))
    }

    init(multiCode: CURLMcode, during operation: String) {
        let generic = curl_multi_strerror(multiCode).map { String(cString: $0) } ?? "libcurl multi error"
        self.init(
            code: Int32(CURLE_FAILED_INIT.rawValue),
            message: "\(operation): \(generic) (CURLMcode \(multiCode.rawValue))",
            kind: .other
        )
    }

    static func kind(of code: CURLcode) -> Kind {
        switch code {
        case CURLE_ABORTED_BY_CALLBACK:
            return .cancelled
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT:
            return .couldNotConnect
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS,
            CURLE_SSL_CRL_BADFILE:
            return .tlsVerification
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
            CURLE_SSL_CIPHER, CURLE_USE_SSL_FAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_SHUTDOWN_FAILED,
            CURLE_SSL_CLIENTCERT:
            return .tlsOther
        case CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
            return .connectionReset
        case CURLE_RECV_ERROR:
            return .recvError
        case CURLE_SEND_ERROR:
            return .sendError
        default:
            return .other
        }
    }
}
