import GigaChatProtocol
import Glibc

/// Which files `files.upload` may send, decided before a byte is read.
///
/// The daemon reads the file on its client's behalf, so it opens it as that client could: a file the
/// peer's uid may not read is refused, and so are the places where reading can never be what a person
/// meant — /proc (a process's environment holds GIGACHAT_CREDENTIALS; pagemap reads forever), /sys, /dev
/// — and the daemon's own secrets.
struct UploadPolicy: Sendable {
    /// The largest file the API takes.
    static let maxFileBytes = 512 * 1024 * 1024
    static let systemDirectories = ["/proc", "/sys", "/dev"]

    /// Directories whose files are secrets ($CREDENTIALS_DIRECTORY, the gigachat config directory).
    var secretDirectories: [String]
    /// Single secret files (the config file, the TLS client key).
    var secretFiles: [String]

    /// An opened file, ready to stream: the descriptor and the size it had when opened.
    struct Opened: Sendable {
        var descriptor: Int32
        var size: Int
    }

    /// Opens `path` for upload by `peer`, or says why not (-32010).
    func open(_ path: String, peer: PeerCredentials) throws(RPCError) -> Opened {
        func refuse(_ reason: String) -> RPCError {
            RPCError(.localError, "cannot upload \(path): \(reason)")
        }
        guard let resolved = Self.realPath(path) else { throw refuse(Self.errnoText()) }
        for directory in Self.systemDirectories where Self.isInside(resolved, directory) {
            throw refuse("files under \(directory) are not uploaded")
        }
        for directory in secretDirectories.compactMap(Self.realPath) where Self.isInside(resolved, directory) {
            throw refuse("it is in \(directory), which holds gigachatd's secrets")
        }
        // O_NONBLOCK: a FIFO must not hang the open; O_NOFOLLOW: the path was resolved, a link now is a race.
        let descriptor = Glibc.open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
        guard descriptor >= 0 else { throw refuse(Self.errnoText()) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let reason = Self.errnoText()
            close(descriptor)
            throw refuse(reason)
        }
        func fail(_ reason: String) -> RPCError {
            close(descriptor)
            return refuse(reason)
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw fail("not a regular file") }
        for secret in secretFiles {
            var other = stat()
            if stat(secret, &other) == 0, other.st_dev == info.st_dev, other.st_ino == info.st_ino {
                throw fail("it is one of gigachatd's own secret files")
            }
        }
        guard Self.peerMayRead(info, peer: peer) else {
            throw fail("uid \(peer.uid) may not read it (mode \(String(info.st_mode & 0o777, radix: 8)), owner \(info.st_uid))")
        }
        guard info.st_size > 0 else { throw fail("the file is empty") }
        guard info.st_size <= Self.maxFileBytes else {
            throw fail("larger than \(Self.maxFileBytes / 1024 / 1024) MiB, the most the API takes")
        }
        return Opened(descriptor: descriptor, size: Int(info.st_size))
    }

    /// The read permission the kernel would grant `peer` by the file's mode (root reads everything).
    static func peerMayRead(_ info: stat, peer: PeerCredentials) -> Bool {
        if peer.uid == 0 { return true }
        if info.st_uid == peer.uid { return info.st_mode & S_IRUSR != 0 }
        if info.st_gid == peer.gid { return info.st_mode & S_IRGRP != 0 }
        return info.st_mode & S_IROTH != 0
    }

    static func isInside(_ path: String, _ directory: String) -> Bool {
        path == directory || path.hasPrefix(directory.hasSuffix("/") ? directory : directory + "/")
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func errnoText() -> String {
        ErrorCause.lastErrno.description
    }
}
