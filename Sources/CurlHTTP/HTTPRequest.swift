/// A single HTTP request for ``CurlEngine/perform(_:)``.
public struct HTTPRequest: Sendable {
    /// The request method.
    public enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
        case delete = "DELETE"
    }

    /// The request body.
    public enum Body: Sendable {
        case none
        case bytes([UInt8])
        case multipart([MultipartPart])
    }

    public var method: Method
    public var url: String
    /// Sent in order, names as given. An empty value suppresses a header libcurl would add on its own
    /// (for example `Expect`), because that is how libcurl reads a header without a value.
    public var headers: [(name: String, value: String)]
    public var body: Body
    public var tls: TLSOptions
    /// Bounds connecting, and any silence while the response is arriving (no bytes for this long aborts).
    public var timeoutSeconds: Double

    public init(
        method: Method = .get,
        url: String,
        headers: [(name: String, value: String)] = [],
        body: Body = .none,
        tls: TLSOptions,
        timeoutSeconds: Double = 60
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.tls = tls
        self.timeoutSeconds = timeoutSeconds
    }
}
