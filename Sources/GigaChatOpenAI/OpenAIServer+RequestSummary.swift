import GigaChatAPI

extension OpenAIServer {
    /// What the daemon records about one answered HTTP request.
    public struct RequestSummary: Sendable {
        /// "POST /v1/chat/completions".
        public var route: String
        /// GigaChat's own REST paths, forwarded as they are (not the OpenAI translation).
        public var passthrough: Bool
        public var startedAtMilliseconds: Int64
        public var metrics: RequestMetrics.Values
        /// The HTTP status of a failure; nil when the request succeeded.
        public var failureStatus: Int?
        /// The failure worth showing as the last upstream error, if any.
        public var upstreamError: String?
        /// The daemon or the client ended it early (cancel, client left, deadline, stall).
        public var endedEarly: Bool
        /// The peer's pid on the Unix socket; nil over TCP.
        public var peerPID: Int32?
    }
}
