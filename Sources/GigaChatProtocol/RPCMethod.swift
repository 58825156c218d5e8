/// Method and notification names of the protocol (docs/PROTOCOL.md).
public enum RPCMethod {
    public static let chat = "chat"
    /// The v2 chat contract (content parts, built-in tools, named stream events).
    public static let chatCreate = "chat.create"
    public static let filesContent = "files.content"
    public static let aiCheck = "ai.check"
    public static let functionsConvert = "functions.convert"
    /// The usage ledger (docs/USAGE.md).
    public static let usageSummary = "usage.summary"
    public static let usageLog = "usage.log"
    public static let status = "status"
    public static let cancel = "cancel"
    public static let models = "models"
    public static let modelsGet = "models.get"
    public static let embeddings = "embeddings"
    public static let tokensCount = "tokens.count"
    public static let balance = "balance"
    public static let filesUpload = "files.upload"
    public static let filesList = "files.list"
    public static let filesGet = "files.get"
    public static let filesDelete = "files.delete"
    public static let conversationsList = "conversations.list"
    public static let conversationsShow = "conversations.show"
    public static let conversationsDelete = "conversations.delete"

    /// Notification carrying one streamed piece of a chat reply: {"id", "content"} (+ "function_call").
    public static let chatDelta = "chat.delta"
    /// Notification carrying one event of a v2 stream: {"id", "event", "data"} (+ "text", "reasoning_text").
    public static let chatEvent = "chat.event"
    /// Notification that a request waits for an upstream slot: {"id", "ahead"} (requests before it).
    public static let requestQueued = "request.queued"
}

/// Protocol-level constants shared by daemon and client.
public enum ProtocolDefaults {
    /// Longest request line the daemon accepts unless GIGACHATD_MAX_LINE_BYTES says otherwise.
    public static let maxLineBytes = 8 * 1024 * 1024
    /// The local key of the OpenAI-compatible TCP listener, in the gigachat config directory: the daemon
    /// creates it, gigachatctl prints it.
    public static let httpKeyFileName = "http-key"
}
