import CurlHTTP
import GigaChatProtocol

/// One call to the REST API, relative to the base URL.
public struct APICall: Sendable {
    public enum Body: Sendable {
        case none
        case json(JSONValue)
        /// A JSON document already serialized.
        case jsonBytes([UInt8])
        /// Any other body, with its content type.
        case bytes([UInt8], contentType: String)
        case multipart([MultipartPart])
    }

    public var method: HTTPRequest.Method
    /// Relative to the v1 base URL, unless `contract` is `.v2Chat`.
    public var path: String
    public var contract: Contract = .v1

    /// Which base a call's URL is built on.
    public enum Contract: Sendable {
        /// `path` under GIGACHAT_BASE_URL.
        case v1
        /// The v2 chat URL derived from the base URL; `path` only names it in messages.
        case v2Chat
    }
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

    /// A v2 chat completion.
    public static func v2Chat(body: [UInt8], headers: [(name: String, value: String)], streaming: Bool) -> APICall {
        var call = APICall(.post, "/v2/chat/completions", body: .jsonBytes(body), headers: headers, streaming: streaming)
        call.contract = .v2Chat
        return call
    }
}
