import GigaChatProtocol

/// Why talking to the daemon failed, in a few words, and what kind of failure it was.
struct ConnectError: ErrorShape {
    enum Kind: Hashable, Sendable {
        /// No daemon there: no socket, connection refused.
        case unreachable
        /// The socket is not the user's own daemon (see SocketTrust): `message` is the whole message,
        /// advice included, and nothing was sent.
        case untrusted
        /// The connection was accepted and then closed or reset before the daemon said a word: under
        /// socket activation, a daemon that could not start.
        case notStarted
        /// The daemon accepted the connection but said nothing within the first-line limit.
        case noAnswer
        /// The connection broke after the daemon had answered something.
        case lost
        /// Ctrl-C while still connecting.
        case interrupted
    }

    let kind: Kind
    /// The reason in a few words (the callers put it in a sentence).
    let message: String
    let cause: ErrorCause?

    init(_ kind: Kind, _ message: String, cause: ErrorCause? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    /// A system call failed: the reason is the system's text for its errno.
    init(_ kind: Kind, cause: ErrorCause) {
        self.init(kind, cause.description, cause: cause)
    }

    var description: String { message }
}
