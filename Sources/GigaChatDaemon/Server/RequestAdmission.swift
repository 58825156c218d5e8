import GigaChatProtocol

/// Daemon-wide caps on unfinished requests: how many, and how many request-line bytes they hold.
///
/// Every queued request costs memory until it ends, and clients can queue faster than one upstream slot
/// drains; past these caps a request is refused at once (-32011) instead of growing the daemon.
actor RequestAdmission {
    private(set) var running = 0
    private(set) var bytes = 0

    /// Admits a request whose line was `lineBytes` long, or says which cap it would break.
    func admit(lineBytes: Int, maxRequests: Int, maxBytes: Int) -> RPCError? {
        if running >= maxRequests {
            return RPCError(
                .tooManyRequests,
                "gigachatd already has \(running) requests running or queued, its limit (GIGACHATD_MAX_REQUESTS); try again later",
                data: ["limit": .int(Int64(maxRequests)), "setting": "GIGACHATD_MAX_REQUESTS"]
            )
        }
        if bytes > 0, bytes + lineBytes > maxBytes {
            return RPCError(
                .tooManyRequests,
                "the requests gigachatd holds already take \(bytes) bytes; this one would pass its limit of \(maxBytes) (GIGACHATD_MAX_PENDING_BYTES); try again later",
                data: ["limit": .int(Int64(maxBytes)), "setting": "GIGACHATD_MAX_PENDING_BYTES"]
            )
        }
        running += 1
        bytes += lineBytes
        return nil
    }

    func release(lineBytes: Int) {
        running -= 1
        bytes -= lineBytes
    }
}
