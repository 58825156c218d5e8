import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Files on the client's side: the daemon does not share the client's working directory, so paths
/// are made absolute here, and small JSON files (function definitions) are read here.
enum LocalFile {
    /// Reasonable for a list of function definitions; protects against `--function /dev/zero`.
    static let maxJSONBytes = 16 * 1024 * 1024

    struct Failure: Error {
        let message: String
    }

    /// `path` made absolute against the current directory (no symlinks resolved: the daemon does that).
    static func absolutePath(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let directory = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var relative = Substring(path)
        while relative.hasPrefix("./") { relative = relative.dropFirst(2).drop { $0 == "/" } }
        if relative == "." { relative = "" }
        guard !relative.isEmpty else { return directory }
        return directory.hasSuffix("/") ? directory + relative : directory + "/" + relative
    }

    static func read(_ path: String, limit: Int) throws(Failure) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(message: "cannot open \(path): \(ErrorCause.lastErrno.description)") }
        defer { close(descriptor) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw Failure(message: "cannot read \(path): \(ErrorCause.lastErrno.description)") }
            if count == 0 { return data }
            data.append(contentsOf: chunk[0..<count])
            guard data.count <= limit else { throw Failure(message: "\(path) is larger than \(limit / 1024 / 1024) MiB") }
        }
    }

    static func readJSON(_ path: String) throws(Failure) -> JSONValue {
        let bytes = try read(path, limit: maxJSONBytes)
        do {
            return try JSONValue(parsing: bytes)
        } catch {
            throw Failure(message: "\(path) is not valid JSON: \(error.description)")
        }
    }
}
