internal import CLinux
import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Makes sure the socket belongs to the user's own daemon before a prompt is sent to it.
///
/// With no XDG_RUNTIME_DIR the socket lives in /tmp/gigachat-$UID/, a name anyone can create first;
/// whoever listens there would read every prompt. So the socket's directory must be a real directory
/// that only its owner can change, the socket file must be ours, and the process that accepted the
/// connection must run as us. Root counts as ours everywhere: it could read the prompts anyway, and a
/// system-wide setup may create the directory as root.
enum SocketTrust {
    /// Checks the directory and the socket file; a path that does not exist is left for connect() to
    /// report as "not running".
    static func checkPath(_ socketPath: String) throws(ConnectError) {
        let directory = directory(of: socketPath)
        var info = stat()
        if lstat(directory, &info) == 0 {
            let kind = info.st_mode & S_IFMT
            guard kind == S_IFDIR else {
                let what = kind == S_IFLNK ? "a symbolic link" : "not a directory"
                throw refusal(
                    socketPath,
                    "its directory \(directory) is \(what) (owner uid \(info.st_uid)), so it may lead to another "
                        + "user's socket. Remove it (rm \(directory)) and restart gigachatd"
                )
            }
            guard isTrusted(info.st_uid) else {
                throw refusal(
                    socketPath,
                    "its directory \(directory) belongs to uid \(info.st_uid), not to you (uid \(geteuid())) or root, "
                        + "so another user may be listening there. Remove it (as root if need be) and restart "
                        + "gigachatd, or set XDG_RUNTIME_DIR or --socket to a directory of your own"
                )
            }
            guard info.st_mode & 0o022 == 0 else {
                throw refusal(
                    socketPath,
                    "its directory \(directory) (owner uid \(info.st_uid)) is writable by others "
                        + "(mode \(String(info.st_mode & 0o777, radix: 8))), so anyone could have put the socket "
                        + "there. Fix it with: chmod 700 \(directory), then restart gigachatd"
                )
            }
        }
        // stat, not lstat: inside a directory only we control, a symlink was made by us; what counts is
        // whose socket it leads to.
        if stat(socketPath, &info) == 0, !isTrusted(info.st_uid) {
            throw refusal(
                socketPath,
                "the socket belongs to uid \(info.st_uid), not to you (uid \(geteuid())) or root, so another "
                    + "user's program is listening there. Remove it (as root if need be) and restart gigachatd"
            )
        }
    }

    /// Checks who accepted the connection (SO_PEERCRED), which no race on the path can fake.
    static func checkPeer(_ descriptor: Int32, socketPath: String) throws(ConnectError) {
        var credentials = clinux_ucred()
        var length = socklen_t(MemoryLayout<clinux_ucred>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0,
            length == socklen_t(MemoryLayout<clinux_ucred>.size)
        else {
            throw refusal(
                socketPath,
                "cannot tell which user runs the process listening there (\(ErrorCause.lastErrno.description))"
            )
        }
        guard isTrusted(credentials.uid) else {
            throw refusal(
                socketPath,
                "the process listening there (pid \(credentials.pid)) runs as uid \(credentials.uid), not as you "
                    + "(uid \(geteuid())) or root. Stop it, remove \(socketPath) and restart gigachatd"
            )
        }
    }

    static func isTrusted(_ uid: uid_t) -> Bool {
        uid == geteuid() || uid == 0
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    private static func refusal(_ socketPath: String, _ why: String) -> ConnectError {
        ConnectError(.untrusted, "refusing to use \(socketPath): \(why)")
    }
}
