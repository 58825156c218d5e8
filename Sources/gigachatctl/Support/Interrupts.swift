#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Ctrl-C as a pending signal that the client polls for.
///
/// A handler would have to reach the open connection through global state; blocking SIGINT and
/// looking for it between reads lets the code that owns the connection decide what Ctrl-C means
/// (cancel the request, clear the REPL's line, or exit).
enum Interrupts {
    private static var mask: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        return set
    }

    /// From now on Ctrl-C no longer kills the process; `takePending()` reports it instead.
    static func block() {
        var set = mask
        sigprocmask(SIG_BLOCK, &set, nil)
    }

    /// Takes a pending Ctrl-C, if there is one.
    static func takePending() -> Bool {
        var pending = sigset_t()
        sigpending(&pending)
        guard sigismember(&pending, SIGINT) == 1 else { return false }
        var set = mask
        var zero = timespec()
        _ = sigtimedwait(&set, nil, &zero)
        return true
    }
}
