import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// "waiting: N requests ahead" on a terminal's stderr while gigachatd holds the request back for an
/// upstream slot (its `request.queued` notification), erased as soon as anything else is printed.
final class QueueNotice {
    /// The notice is rewritten in place, which a dumb terminal cannot do.
    private let enabled = Output.stderrIsTerminal && !Output.dumbTerminal
    private var shown = false

    /// Handles the notification if it is the queue notice; false for any other.
    func handle(_ method: String, _ params: JSONObject) -> Bool {
        guard method == RPCMethod.requestQueued else { return false }
        guard enabled, let ahead = params["ahead"]?.intValue else { return true }
        let text = ahead == 1 ? "waiting: 1 request ahead" : "waiting: \(ahead) requests ahead"
        Output.write("\r" + Style.standardError.dim(text) + "\u{1B}[K", to: STDERR_FILENO)
        shown = true
        return true
    }

    /// Erases the notice, before the reply or an error is printed.
    func clear() {
        guard shown else { return }
        Output.write("\r\u{1B}[K", to: STDERR_FILENO)
        shown = false
    }
}
