import Glibc

/// Caps open client connections below the file-descriptor limit, so the daemon never runs out.
///
/// When accept() fails with EMFILE, the listening socket stays readable and the event loop retries at
/// once: a busy loop at 100% CPU (swift-nio 2.101). Instead the accept loop waits here for a free slot,
/// new clients wait in the listen backlog, and descriptors stay free for upstream connections, the
/// journal and files. The limit is read on every accept, so a raised or lowered RLIMIT_NOFILE counts.
actor ConnectionSlots {
    /// Descriptors kept for everything that is not a client connection (measured: 24 is not enough
    /// under load; 40 is).
    static let reserved = 40

    private var open = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    static func currentCapacity() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 - reserved }
        // RLIM_INFINITY is the largest value, so the cap also covers "unlimited".
        let soft = min(UInt64(limit.rlim_cur), 1 << 20)
        return max(1, Int(soft) - reserved)
    }

    /// Waits until one more connection fits.
    func acquire() async {
        if open < Self.currentCapacity() {
            open += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if !waiters.isEmpty, open <= Self.currentCapacity() {
            waiters.removeFirst().resume()  // the slot passes straight to the next client
        } else {
            open -= 1
        }
    }

    /// Raises the soft descriptor limit to the hard one (systemd gives user services 1024 soft), so the
    /// daemon can serve the connections its users open.
    static func raiseLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = min(limit.rlim_max, 1 << 20)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
