import CurlHTTP
import GigaChatProtocol

/// One call to the REST API, relative to the base URL.
public struct APICall: Sendable {
    public enum Body: Sendable {
        case none
        case json(JSONValue)
        /// A JSON document already serialized.
        case jsonBytes([UInt8])
        case multipart([MultipartPart])
    }

    public var method: HTTPRequest.Method
    public var path: String
    public var body: Body
    public var headers: [(name: String, value: String)]
    /// Whether the reply is an event stream.
    public var streaming: Bool

    public init(
        _ method: HTTPRequest.Method,
        _ path: String,
        body: Body = .none,
        headers: [(name: String, value: String)] = [],
        streaming: Bool = false
    ) {
        self.method = method
        self.path = path
        self.body = body
        self.headers = headers
        self.streaming = streaming
    }
}
