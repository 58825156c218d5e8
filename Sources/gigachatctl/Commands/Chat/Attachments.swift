import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Files sent with a prompt (--attach, /attach): each is uploaded once. The ids of earlier uploads are
/// kept by content hash in `$XDG_STATE_HOME/gigachat/uploads.json` (0600), so the same file (under any
/// name) is referred to again instead of being uploaded again; `files delete` forgets an id.
enum Attachments {
    static let fileName = "uploads.json"
    /// The API's own limit for an upload (gigachatd refuses larger files too).
    static let maxBytes: Int64 = 512 * 1024 * 1024
    /// The oldest entries beyond this are dropped when the file is written.
    static let maxEntries = 10_000

    static var path: String? { ClientPaths.stateDirectory.map { $0 + "/" + fileName } }

    /// The file ids for `paths`, uploading those not uploaded before. Failures are reported and thrown.
    static func ids(for paths: [String], client: DaemonClient, connection: ConnectionOptions) throws -> [String] {
        guard !paths.isEmpty else { return [] }
        var cache = load()
        var ids: [String] = []
        var changed = false
        for path in paths {
            let hash: String
            do {
                hash = try contentHash(of: path)
            } catch {
                throw ClientExit.usageError("--attach: \(error.message)")
            }
            if let id = cache[hash]?["id"]?.stringValue {
                ids.append(id)
                continue
            }
            // The upload's own lines are not the chat's: --json prints only the chat.
            var quiet = connection
            quiet.json = false
            let result = try CallRunner.perform(
                RPCMethod.filesUpload,
                params: ["path": .string(LocalFile.absolutePath(path)), "purpose": "general"],
                options: quiet,
                client: client
            )
            guard let id = result["id"]?.stringValue else {
                Output.error("gigachatd's answer to the upload of \(path) has no file id")
                throw ReportedFailure(exitCode: ClientExit.upstreamError)
            }
            ids.append(id)
            cache[hash] = ["id": .string(id), "name": .string(path), "bytes": result["bytes"] ?? .null]
            changed = true
        }
        if changed { save(cache) }
        return ids
    }

    /// Forgets an id that no longer exists (`files delete`).
    static func forget(id: String) {
        var cache = load()
        let before = cache.count
        for (hash, entry) in cache where entry["id"]?.stringValue == id { cache[hash] = nil }
        if cache.count != before { save(cache) }
    }

    /// Hex SHA-256 of a regular file's bytes.
    static func contentHash(of path: String) throws(LocalFile.Failure) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw LocalFile.Failure(message: "cannot open \(path): \(ErrorCause.lastErrno.description)") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw LocalFile.Failure(message: "cannot read \(path): \(ErrorCause.lastErrno.description)") }
        // A FIFO or a device could be read forever; gigachatd uploads only regular files anyway.
        guard info.st_mode & S_IFMT == S_IFREG else { throw LocalFile.Failure(message: "\(path) is not a regular file") }
        guard Int64(info.st_size) <= maxBytes else { throw LocalFile.Failure(message: "\(path) is larger than 512 MiB, the API's limit") }
        var hash = SHA256()
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw LocalFile.Failure(message: "cannot read \(path): \(ErrorCause.lastErrno.description)") }
            if count == 0 { break }
            hash.update(chunk[0..<count])
        }
        return hash.finalizeHex()
    }

    /// The remembered uploads; an unreadable file is as good as none (the next upload rewrites it).
    private static func load() -> JSONObject {
        guard let path, let bytes = try? PrivateFile.read(path, limit: 16 * 1024 * 1024),
            let object = (try? JSONValue(parsing: bytes))?.objectValue
        else { return [:] }
        return object
    }

    private static func save(_ cache: JSONObject) {
        guard let path else { return }
        var kept = cache
        if kept.count > maxEntries {
            kept = JSONObject(Array(cache.map { ($0.key, $0.value) }.suffix(maxEntries)))
        }
        var bytes: [UInt8] = []
        JSONValue.object(kept).write(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        do {
            try PrivateFile.write(bytes, to: path)
        } catch {
            Output.notice("the upload will not be remembered: \(error.message)")
        }
    }
}
