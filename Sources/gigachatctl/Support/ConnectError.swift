/// Why talking to the daemon failed, in a few words, and what kind of failure it was.
struct ConnectError: Error {
    enum Kind {
        /// No daemon there: no socket, connection refused.
        case unreachable
        /// The socket is not the user's own daemon (see SocketTrust): `reason` is the whole message,
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
    let reason: String

    init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }
}
