import GigaChatProtocol

/// Which API contract a request used.
public enum UsageContract: String, Sendable, Hashable, CaseIterable {
    /// GigaChat v1 (`chat`, and every other JSON-RPC method on a v1 path).
    case v1
    /// GigaChat v2 (`chat.create`).
    case v2
    /// The OpenAI-compatible HTTP front end.
    case openai
    /// GigaChat REST paths forwarded as they are.
    case passthrough
}

/// How a request ended.
public enum UsageOutcome: String, Sendable, Hashable, CaseIterable {
    case ok
    case error
    /// `cancel`, or the client left.
    case cancelled
    /// Ended with an error after part of a reply had arrived (the reply so far was delivered).
    case partial
}

/// One request the daemon handled: one row of the ledger.
public struct UsageRecord: Sendable, Hashable {
    /// When the request arrived, in Unix milliseconds.
    public var startedAtMs: Int64
    /// Time spent waiting for an upstream slot.
    public var queueWaitMs: Int64
    /// Time spent upstream (retries included), from the first byte sent to the last received.
    public var upstreamMs: Int64
    /// The JSON-RPC method, or the HTTP method and route of the HTTP front end ("POST /v1/chat/completions").
    public var method: String
    /// The upstream path called ("/chat/completions"); nil when nothing was sent upstream.
    public var endpoint: String?
    public var contract: UsageContract
    /// The model the request asked for (the daemon's default when it named none).
    public var modelRequested: String?
    /// The model the API said answered ("GigaChat:2.0.28.2").
    public var modelAnswered: String?
    public var inputTokens: Int64
    public var outputTokens: Int64
    /// Input tokens served from the API's prompt cache (not billed).
    public var cachedTokens: Int64
    public var totalTokens: Int64
    public var outcome: UsageOutcome
    /// The JSON-RPC error code the request ended with; nil on success.
    public var errorCode: Int?
    /// Upstream attempts beyond the first (429/5xx retries, the retry after a 401).
    public var retries: Int
    public var conversation: String?
    public var sessionID: String?
    public var client: ClientIdentity
    /// Kept only when the ledger is configured to store text (GIGACHATD_LEDGER_TEXT=1).
    public var promptText: String?
    public var replyText: String?

    public init(
        startedAtMs: Int64,
        queueWaitMs: Int64 = 0,
        upstreamMs: Int64 = 0,
        method: String,
        endpoint: String? = nil,
        contract: UsageContract = .v1,
        modelRequested: String? = nil,
        modelAnswered: String? = nil,
        inputTokens: Int64 = 0,
        outputTokens: Int64 = 0,
        cachedTokens: Int64 = 0,
        totalTokens: Int64 = 0,
        outcome: UsageOutcome = .ok,
        errorCode: Int? = nil,
        retries: Int = 0,
        conversation: String? = nil,
        sessionID: String? = nil,
        client: ClientIdentity = ClientIdentity(),
        promptText: String? = nil,
        replyText: String? = nil
    ) {
        self.startedAtMs = startedAtMs
        self.queueWaitMs = queueWaitMs
        self.upstreamMs = upstreamMs
        self.method = method
        self.endpoint = endpoint
        self.contract = contract
        self.modelRequested = modelRequested
        self.modelAnswered = modelAnswered
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedTokens = cachedTokens
        self.totalTokens = totalTokens
        self.outcome = outcome
        self.errorCode = errorCode
        self.retries = retries
        self.conversation = conversation
        self.sessionID = sessionID
        self.client = client
        self.promptText = promptText
        self.replyText = replyText
    }

    /// Fills outcome, error code, answering model and tokens from a request's final result. A failure
    /// that carries `data.result` (a partial stream, a cancelled or timed-out request, an unsaved
    /// conversation) still counts the tokens that reply used.
    public mutating func apply(_ result: Result<JSONValue, RPCError>) {
        let body: JSONValue?
        switch result {
        case .success(let value):
            outcome = .ok
            errorCode = nil
            body = value
        case .failure(let error):
            errorCode = error.code.rawValue
            body = error.data?["result"]
            if error.code == .requestCancelled {
                outcome = .cancelled
            } else if error.data?["partial"]?.boolValue == true {
                outcome = .partial
            } else {
                outcome = .error
            }
        }
        guard let body else { return }
        if let model = body["model"]?.stringValue { modelAnswered = model }
        if let tokens = TokenCounts(usage: body["usage"]) {
            inputTokens = tokens.input
            outputTokens = tokens.output
            cachedTokens = tokens.cached
            totalTokens = tokens.total
        }
    }
}

/// Token counts read from an API `usage` object, whichever contract wrote it.
public struct TokenCounts: Sendable, Hashable {
    public var input: Int64
    public var output: Int64
    public var cached: Int64
    public var total: Int64

    public init(input: Int64, output: Int64, cached: Int64, total: Int64) {
        self.input = input
        self.output = output
        self.cached = cached
        self.total = total
    }

    /// v1 (`prompt_tokens`, `completion_tokens`, `precached_prompt_tokens`), v2 (`input_tokens`,
    /// `output_tokens`, `input_tokens_details.cached_tokens`) and OpenAI (`prompt_tokens_details.cached_tokens`);
    /// nil when `usage` is not an object. Negative or absurd numbers are clamped, never trusted.
    public init?(usage: JSONValue?) {
        guard let usage, usage.objectValue != nil else { return nil }
        func number(_ value: JSONValue?) -> Int64 { Self.clamp(value?.intValue ?? 0) }
        input = number(usage["input_tokens"] ?? usage["prompt_tokens"])
        output = number(usage["output_tokens"] ?? usage["completion_tokens"])
        cached = number(
            usage["input_tokens_details"]?["cached_tokens"]
                ?? usage["prompt_tokens_details"]?["cached_tokens"]
                ?? usage["precached_prompt_tokens"]
        )
        let reported = number(usage["total_tokens"])
        total = reported > 0 ? reported : input + output
    }

    /// The largest count one row keeps: far above any real request, far below where sums could overflow.
    public static let maxCount: Int64 = 1_000_000_000_000

    static func clamp(_ value: Int64) -> Int64 { min(max(value, 0), maxCount) }
}
