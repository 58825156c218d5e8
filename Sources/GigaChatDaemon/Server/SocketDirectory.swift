import Foundation
import GigaChatProtocol

/// Why the daemon cannot serve on its socket path; worded for the person who runs it.
public struct SocketSetupError: ErrorShape {
    public enum Kind: Sendable, Hashable {
        /// The socket's directory or path is unsafe or cannot be made.
        case directory
        /// Another gigachatd already serves there.
        case inUse
        /// The sockets systemd passed cannot be used.
        case activation
        /// Binding or serving a socket failed.
        case listen
        /// A listener setting (the HTTP front end's) is invalid.
        case settings
    }

    public var kind: Kind
    public var message: String
    public var cause: ErrorCause?

    public init(_ kind: Kind, _ message: String, cause: ErrorCause? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}

/// Prepares the socket's directory and path the way ssh-agent does: a private 0700 directory owned by us,
/// a stale socket from a crashed run replaced, a live daemon never stolen from.
enum SocketDirectory {
    /// Creates the directory (0700) if missing; refuses one owned by someone else or open to others.
    /// Only the socket's own directory is checked, not its parents.
    static func prepare(_ socket: SocketPath) throws(SocketSetupError) {
        let directory = socket.directory
        var info = stat()
        if lstat(directory, &info) != 0 {
            guard errno == ENOENT else { throw failure("cannot inspect \(directory)") }
            try createParents(of: directory)
            if mkdir(directory, 0o700) != 0, errno != EEXIST {
                throw failure("cannot create socket directory \(directory)")
            }
            guard lstat(directory, &info) == 0 else { throw failure("cannot inspect \(directory)") }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw SocketSetupError(.directory, "\(directory) is not a directory (a symlink or file is refused); remove it or choose another --socket")
        }
        guard info.st_uid == getuid() else {
            throw SocketSetupError(
                .directory, "socket directory \(directory) belongs to uid \(info.st_uid), not to you (uid \(getuid())); refusing to use it"
            )
        }
        guard info.st_mode & 0o022 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw SocketSetupError(
                .directory, "socket directory \(directory) is writable by others (mode \(mode)); fix it with: chmod 700 \(directory)"
            )
        }
    }

    /// Removes a stale socket left by a crashed run; refuses when a daemon still answers on it or when
    /// the path is not a socket at all.
    static func clearStale(_ path: String) throws(SocketSetupError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SocketSetupError(.directory, "\(path) exists and is not a socket; refusing to replace it")
        }
        if isAlive(path) {
            throw SocketSetupError(.inUse, "another gigachatd is already serving on \(path); stop it first (systemctl --user stop gigachatd)")
        }
        guard unlink(path) == 0 || errno == ENOENT else { throw failure("cannot remove stale socket \(path)") }
    }

    /// Whether something accepts connections on `path`.
    static func isAlive(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    private static func createParents(of directory: String) throws(SocketSetupError) {
        let parent = (directory as NSString).deletingLastPathComponent
        guard !parent.isEmpty, parent != "/", !FileManager.default.fileExists(atPath: parent) else { return }
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SocketSetupError(.directory, "cannot create \(parent): \(error.localizedDescription)")
        }
    }

    private static func failure(_ what: String) -> SocketSetupError {
        let cause = ErrorCause.lastErrno
        return SocketSetupError(.directory, "\(what): \(cause)", cause: cause)
    }
}
