import GigaChatProtocol
import NIOConcurrencyHelpers

/// What the upstream layer measures about the request a task works for — time waiting for a slot, time
/// upstream, retries, the endpoint — for the daemon's usage ledger. The daemon sets one per request; the
/// limiter and the request cycle fill it, however deep they run.
public final class RequestMetrics: Sendable {
    /// The current request's metrics; nil outside a request.
    public static var current: RequestMetrics? { RequestScope.current?.metrics }

    public struct Values: Sendable {
        public var queueWait: Duration = .zero
        public var upstream: Duration = .zero
        public var retries = 0
        /// The last API path called (`/chat/completions`, `/v2/chat/completions`, `/embeddings`, ...).
        public var endpoint: String?
        /// The model the request asked for, when it names one.
        public var modelRequested: String?
        public var conversation: String?
        public var sessionID: String?
        /// The last answer's `model` and `usage`, for requests whose final result the ledger does not see
        /// (the HTTP front end's translated replies).
        public var modelAnswered: String?
        public var usage: JSONValue?
    }

    private let box = NIOLockedValueBox(Values())

    public init() {}

    public var values: Values { box.withLockedValue { $0 } }

    public func update(_ change: (inout Values) -> Void) {
        box.withLockedValue { change(&$0) }
    }

    /// Notes what an API answer says about itself: the answering model and the tokens it used.
    public func note(answer: JSONValue) {
        update { values in
            if let model = answer["model"]?.stringValue { values.modelAnswered = model }
            if let usage = answer["usage"], usage.objectValue != nil { values.usage = usage }
        }
    }
}
