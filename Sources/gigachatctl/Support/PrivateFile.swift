import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Files only their owner may read (0600 in a 0700 directory): what the user asked and was told is
/// as private as gigachatd's stored conversations.
enum PrivateFile {
    struct Failure: Error {
        let message: String
    }

    /// Creates `directory` and its missing parents (new ones 0700).
    static func makeDirectory(_ directory: String) throws(Failure) {
        var path = ""
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            path += "/" + component
            if mkdir(path, 0o700) != 0, errno != EEXIST {
                throw Failure(message: "cannot create \(path): \(ErrorCause.lastErrno.description)")
            }
        }
    }

    /// Replaces `path` with `bytes` in one step (a temporary file renamed over it), so a reader never
    /// sees half a file.
    static func write(_ bytes: [UInt8], to path: String) throws(Failure) {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectory(String(path[..<slash]))
        }
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw Failure(message: "cannot write \(temporary): \(ErrorCause.lastErrno.description)") }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress.map { $0 + written }, bytes.count - written) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                let reason = ErrorCause.lastErrno.description
                close(descriptor)
                unlink(temporary)
                throw Failure(message: "cannot write \(temporary): \(reason)")
            }
            written += count
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let reason = ErrorCause.lastErrno.description
            unlink(temporary)
            throw Failure(message: "cannot replace \(path): \(reason)")
        }
    }

    /// Appends `bytes` to `path` (created 0600 if missing).
    static func append(_ bytes: [UInt8], to path: String) throws(Failure) {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectory(String(path[..<slash]))
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw Failure(message: "cannot write \(path): \(ErrorCause.lastErrno.description)") }
        defer { close(descriptor) }
        // A history kept from before with looser permissions is made private too.
        fchmod(descriptor, 0o600)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress.map { $0 + written }, bytes.count - written) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw Failure(message: "cannot write \(path): \(ErrorCause.lastErrno.description)") }
            written += count
        }
    }

    /// The file's bytes, or nil if it does not exist.
    static func read(_ path: String, limit: Int) throws(Failure) -> [UInt8]? {
        guard access(path, F_OK) == 0 else { return nil }
        do {
            return try LocalFile.read(path, limit: limit)
        } catch {
            throw Failure(message: error.message)
        }
    }
}
