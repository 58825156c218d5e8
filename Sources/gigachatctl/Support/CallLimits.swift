import GigaChatProtocol

/// How long gigachatctl waits for the daemon.
struct CallLimits {
    /// The default wait for the daemon's first line (documented in --help).
    static let defaultFirstLineSeconds = 10.0

    /// From connecting until the daemon's first line on the connection (any line: a queue notice, a
    /// delta, an answer). nil waits forever.
    var firstLine: Duration? = Durations.from(seconds: defaultFirstLineSeconds)
    /// The whole request, queue and reply included. nil: no limit (the daemon has its own deadline).
    var total: Duration?
}
