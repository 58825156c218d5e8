import CLinux
import Glibc
import NIOCore

/// Who is on the other end of a Unix socket connection (SO_PEERCRED), checked on every accept as
/// ssh-agent does: the socket's mode is the first fence, this is the second.
enum PeerCredentials {
    /// The peer's uid, or nil if the kernel would not say.
    static func uid(of channel: any Channel) async -> uid_t? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        let credentials: clinux_ucred? = try? await provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        ).get()
        return credentials?.uid
    }

    /// Only the daemon's own user, and root, may talk to it.
    static func isAllowed(_ uid: uid_t) -> Bool {
        uid == getuid() || uid == 0
    }
}
