internal import CSystemd
import Foundation
import GigaChatProtocol
import NIOConcurrencyHelpers

/// The listening socket systemd passed by socket activation (LISTEN_FDS/LISTEN_PID), if any.
enum SocketActivation {
    /// The name gigachatd.socket gives its descriptor (FileDescriptorName=); preferred when several are passed.
    static let descriptorName = "gigachatd"

    /// The HTTP front end's socket: named so by its own socket unit, or, as gigachatd.socket passes it beside
    /// the JSON-RPC socket under one FileDescriptorName=, known by its file name.
    static let httpDescriptorName = "openai"
    static let httpSocketFileName = "openai.sock"

    /// The HTTP socket systemd passed, set aside by `listeningSocket()` for the front end.
    private static let passedHTTPSocket = NIOLockedValueBox<PassedSocket?>(nil)

    /// The HTTP socket systemd passed, if any; only once.
    static func takeHTTPSocket() -> PassedSocket? {
        passedHTTPSocket.withLockedValue { socket in
            defer { socket = nil }
            return socket
        }
    }

    /// A socket systemd passed, with what we know about it for messages.
    struct PassedSocket: Sendable {
        let descriptor: Int32
        /// FileDescriptorName= of the socket unit ("unknown" when none was set).
        let name: String
        /// The filesystem path the socket is bound to, when it has one.
        let path: String?
    }

    /// The descriptor to serve on, or nil when the daemon was not socket-activated.
    /// Throws when sockets were passed but none is a listening Unix stream socket.
    static func listeningSocket() throws(SocketSetupError) -> PassedSocket? {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        // Unset the variables: children (none today) must not think the sockets are theirs.
        let count = csystemd_listen_fds_with_names(1, &names)
        defer { csystemd_free_names(names, max(count, 0)) }
        guard count > 0 else {
            if count < 0 {
                let cause = ErrorCause.errno(-count)
                throw SocketSetupError(.activation, "cannot read the sockets systemd passed (LISTEN_FDS): \(cause)", cause: cause)
            }
            return nil
        }
        let start = csystemd_listen_fds_start()
        var candidates: [PassedSocket] = []
        for offset in 0..<Int(count) {
            let descriptor = start + Int32(offset)
            // Not ours to serve on, but still ours to keep out of anything we might spawn.
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            guard csystemd_is_listening_unix_socket(descriptor) > 0 else { continue }
            let name = names.flatMap { $0[offset] }.map { String(cString: $0) } ?? "unknown"
            let passed = PassedSocket(descriptor: descriptor, name: name, path: boundPath(descriptor))
            if name == httpDescriptorName || passed.path.map({ $0.hasSuffix("/" + httpSocketFileName) }) == true {
                passedHTTPSocket.withLockedValue { $0 = passed }
                continue
            }
            candidates.append(passed)
        }
        if let named = candidates.first(where: { $0.name == descriptorName }) { return named }
        if let first = candidates.first { return first }
        throw SocketSetupError(
            .activation, "systemd passed \(count) socket(s) but none is a listening Unix stream socket; check ListenStream= in gigachatd.socket"
        )
    }

    /// The path a Unix socket is bound to, or nil for an abstract or unnamed one.
    private static func boundPath(_ descriptor: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        let pathLength = Int(length) - pathOffset
        guard pathLength > 1 else { return nil }
        return withUnsafeBytes(of: &address.sun_path) { raw -> String? in
            let bytes = raw.prefix(min(pathLength, raw.count))
            // A leading NUL marks an abstract socket, which has no file to name.
            guard let first = bytes.first, first != 0 else { return nil }
            return String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
