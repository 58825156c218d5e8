internal import CLinux
import Glibc
import NIOCore
import UsageLedger

/// Who is on the other end of a Unix socket connection (SO_PEERCRED), checked on every accept as
/// ssh-agent does: the socket's mode is the first fence, this is the second.
struct PeerCredentials: Sendable {
    var pid: pid_t
    var uid: uid_t
    var gid: gid_t
    /// The process behind the pid, for the usage ledger (read once per connection).
    var client = ClientIdentity()

    /// The peer's credentials, or nil if the kernel would not say.
    static func of(_ channel: any Channel) async -> PeerCredentials? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        guard
            let credentials: clinux_ucred = try? await provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET),
                name: SocketOptionName(SO_PEERCRED)
            ).get()
        else { return nil }
        return PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
    }

    /// Only the daemon's own user, and root, may talk to it.
    static func isAllowed(_ uid: uid_t) -> Bool {
        uid == getuid() || uid == 0
    }
}
