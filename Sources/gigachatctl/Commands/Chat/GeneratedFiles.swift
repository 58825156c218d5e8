import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Files the model made (images of `image_generate`): fetched with `files.content` into a directory,
/// named by their id, never replacing a file that is there.
enum GeneratedFiles {
    /// Saves each file in `directory` (absolute; created if missing) and prints its path on a line of
    /// its own. Failures are reported and thrown.
    static func save(_ files: [Reply.GeneratedFile], into directory: String, client: DaemonClient, connection: ConnectionOptions) throws {
        guard !files.isEmpty else { return }
        do {
            try makeDirectories(directory)
        } catch {
            throw ClientExit.usageError("--output-dir: \(error.message)")
        }
        for file in files {
            let path = freePath(in: directory, name: safeName(file.id), extension: fileExtension(for: file.mime))
            let result = try CallRunner.perform(
                RPCMethod.filesContent, params: ["id": .string(file.id), "path": .string(path)], options: connection, client: client
            )
            Output.line(TerminalFilter.standardOutput()(result["path"]?.stringValue ?? path))
        }
    }

    /// A name made of the id's safe characters: it comes from the API and becomes part of a path.
    static func safeName(_ id: String) -> String {
        var name = String(id.unicodeScalars.map(safeCharacter))
        while name.hasPrefix(".") { name.removeFirst() }
        return name.isEmpty ? "file" : String(name.prefix(200))
    }

    private static func safeCharacter(_ scalar: Unicode.Scalar) -> Character {
        let safe =
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || scalar == "-" || scalar == "_" || scalar == "."
        return safe ? Character(scalar) : "_"
    }

    /// The usual extension of a content type, or nil for one without.
    static func fileExtension(for mime: String?) -> String? {
        switch mime?.lowercased() {
        case "image/jpeg", "image/jpg": return "jpg"
        case "image/png": return "png"
        case "image/gif": return "gif"
        case "image/webp": return "webp"
        case "image/svg+xml": return "svg"
        case "application/pdf": return "pdf"
        case "text/plain": return "txt"
        case "text/csv": return "csv"
        case "application/json": return "json"
        default: return nil
        }
    }

    /// `directory/name.ext`, or `name-2.ext`, `name-3.ext`, … when that exists already.
    static func freePath(in directory: String, name: String, extension ext: String?) -> String {
        let base = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        let suffix = ext.map { "." + $0 } ?? ""
        var candidate = base + suffix
        var number = 2
        while access(candidate, F_OK) == 0 {
            candidate = base + "-\(number)" + suffix
            number += 1
        }
        return candidate
    }

    /// `mkdir -p`, with the user's umask (these are the user's files, not private state).
    static func makeDirectories(_ directory: String) throws(LocalFile.Failure) {
        var path = ""
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            path += "/" + component
            if mkdir(path, 0o777) != 0, errno != EEXIST {
                throw LocalFile.Failure(message: "cannot create \(path): \(ErrorCause.lastErrno.description)")
            }
        }
    }
}
