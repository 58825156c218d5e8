import CSystemd

/// The listening socket systemd passed by socket activation (LISTEN_FDS/LISTEN_PID), if any.
enum SocketActivation {
    /// The descriptor to serve on, or nil when the daemon was not socket-activated.
    /// Throws when sockets were passed but none is a listening Unix stream socket.
    static func listeningSocket() throws(SocketSetupError) -> Int32? {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        // Unset the variables: children (none today) must not think the sockets are theirs.
        let count = csystemd_listen_fds_with_names(1, &names)
        defer { csystemd_free_names(names, max(count, 0)) }
        guard count > 0 else {
            if count < 0 {
                throw SocketSetupError(message: "cannot read the sockets systemd passed (LISTEN_FDS): error \(-count)")
            }
            return nil
        }
        let start = csystemd_listen_fds_start()
        for offset in 0..<count where csystemd_is_listening_unix_socket(start + offset) > 0 {
            return start + offset
        }
        throw SocketSetupError(message: "systemd passed \(count) socket(s) but none is a listening Unix stream socket; check ListenStream= in gigachatd.socket")
    }
}
