/// A JSON-RPC error code. Standard codes plus the daemon's documented application codes
/// (docs/PROTOCOL.md lists each one); new codes are added here and nowhere else.
public struct RPCErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    // JSON-RPC 2.0
    public static let parseError = RPCErrorCode(rawValue: -32700)
    public static let invalidRequest = RPCErrorCode(rawValue: -32600)
    public static let methodNotFound = RPCErrorCode(rawValue: -32601)
    public static let invalidParams = RPCErrorCode(rawValue: -32602)
    public static let internalError = RPCErrorCode(rawValue: -32603)
    /// LSP's code: the request was cancelled by `cancel` or by its client leaving.
    public static let requestCancelled = RPCErrorCode(rawValue: -32800)

    // Application codes
    /// The API or the OAuth endpoint refused the credentials (HTTP 401/403 from OAuth, a 401 after a refresh).
    public static let upstreamAuth = RPCErrorCode(rawValue: -32001)
    /// The API answered 429 and waiting as told did not help.
    public static let rateLimited = RPCErrorCode(rawValue: -32002)
    /// The API answered with an HTTP error status (data.status holds it).
    public static let upstreamError = RPCErrorCode(rawValue: -32003)
    /// The API could not be reached: connection refused or reset, DNS, TLS, timeout.
    public static let upstreamUnavailable = RPCErrorCode(rawValue: -32004)
    /// The API's reply broke off or could not be understood (truncated or malformed stream).
    public static let upstreamProtocol = RPCErrorCode(rawValue: -32005)
    /// The daemon has no usable credentials configured.
    public static let notConfigured = RPCErrorCode(rawValue: -32006)
    /// The daemon is shutting down and takes no new requests.
    public static let shuttingDown = RPCErrorCode(rawValue: -32007)
    /// A request line was longer than the daemon accepts.
    public static let lineTooLong = RPCErrorCode(rawValue: -32008)
    /// The peer is not allowed to use this daemon.
    public static let accessDenied = RPCErrorCode(rawValue: -32009)
    /// A local resource (file, conversation) was not found or could not be used.
    public static let localError = RPCErrorCode(rawValue: -32010)
    /// A cap on requests (per connection, for the whole daemon, or on the bytes they hold) was reached.
    public static let tooManyRequests = RPCErrorCode(rawValue: -32011)
    /// The daemon ended the request: its deadline passed (data.reason "deadline"), or its client stopped
    /// reading (data.reason "client_stall").
    public static let requestTimeout = RPCErrorCode(rawValue: -32012)
    /// The API answered 402: no tokens left for this model on this key. Never retried.
    public static let paymentRequired = RPCErrorCode(rawValue: -32013)
    /// A stop event: the model is switched off for now (423, or 403 "temporarily unavailable due to
    /// technical reasons"). Never retried.
    public static let modelUnavailable = RPCErrorCode(rawValue: -32014)
    /// The client's daily budget (GIGACHATD_BUDGETS) is used up; nothing was sent upstream.
    public static let budgetExceeded = RPCErrorCode(rawValue: -32015)

    public var description: String { String(rawValue) }
}

/// A JSON-RPC error object, as sent in a response.
public struct RPCError: ErrorShape, Hashable {
    public var code: RPCErrorCode
    public var message: String
    public var data: JSONValue?

    public init(_ code: RPCErrorCode, _ message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// The JSON-RPC error code is the kind; what lies underneath travels in `data`, for the client.
    public var kind: RPCErrorCode { code }
    public var cause: ErrorCause? { nil }

    public var description: String { "\(message) (code \(code.rawValue))" }

    public var json: JSONValue {
        var object: JSONObject = ["code": .int(Int64(code.rawValue)), "message": .string(message)]
        if let data { object["data"] = data }
        return .object(object)
    }

    /// Reads an error object from a response; nil when `value` is not one.
    public init?(json value: JSONValue) {
        guard let code = value["code"]?.intValue, let message = value["message"]?.stringValue else { return nil }
        self.init(RPCErrorCode(rawValue: Int(code)), message, data: value["data"])
    }
}
