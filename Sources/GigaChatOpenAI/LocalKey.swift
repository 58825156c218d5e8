import Foundation
import GigaChatAPI
import GigaChatProtocol

/// The key TCP clients present as `Authorization: Bearer <key>`. Any local user can reach a loopback port,
/// so the port alone proves nothing; the key lives in a 0600 file only the daemon's user can read.
///
/// It is made on first use and kept: tools configured with it keep working across restarts. It is a
/// gigachatd key, not a GigaChat credential, and it is never logged.
public struct LocalKey: Sendable {
    private let value: [UInt8]

    init(value: [UInt8]) {
        self.value = value
    }

    /// Reads the key at `path`, or creates it (and its directory, 0700) when it does not exist yet.
    public static func loadOrCreate(path: String) throws(ConfigurationError) -> LocalKey {
        if FileManager.default.fileExists(atPath: path) {
            return try load(path)
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
                )
            } catch {
                throw ConfigurationError("cannot create \(directory) for the local HTTP key: \(error.localizedDescription)", kind: .file)
            }
        }
        var random = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = Array("gcd-".utf8)
        for _ in 0..<32 {
            let byte = UInt8.random(in: 0...255, using: &random)
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        // O_EXCL: a daemon starting at the same moment cannot have both write a key; created 0600 from the
        // first byte, so there is no moment in which others could read it.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { return try load(path) }
            let cause = ErrorCause.lastErrno
            throw ConfigurationError("cannot create the local HTTP key \(path): \(cause)", kind: .file, cause: cause)
        }
        defer { close(descriptor) }
        let line = text + [0x0A]
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(descriptor) == 0 else {
            let cause = ErrorCause.lastErrno
            unlink(path)
            throw ConfigurationError("cannot write the local HTTP key \(path): \(cause)", kind: .file, cause: cause)
        }
        return LocalKey(value: text)
    }

    private static func load(_ path: String) throws(ConfigurationError) -> LocalKey {
        try Secret.checkPrivateFile(path, allowInsecure: false)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read the local HTTP key \(path)", kind: .file)
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count >= 16 else {
            throw ConfigurationError("the local HTTP key \(path) is shorter than 16 characters; delete it and gigachatd makes a new one", kind: .file)
        }
        return LocalKey(value: Array(text.utf8))
    }

    /// Whether an `Authorization` header value carries this key. Compared in constant time, so the time a
    /// refusal takes says nothing about how much of a guess was right.
    func matches(authorization: String?) -> Bool {
        guard let authorization else { return false }
        let bytes = Array(authorization.utf8)
        let prefix = Array("bearer ".utf8)
        guard bytes.count > prefix.count,
            zip(bytes.prefix(prefix.count), prefix).allSatisfy({ ($0 | 0x20) == $1 })
        else { return false }
        var presented = bytes.dropFirst(prefix.count)
        while presented.first == 0x20 { presented = presented.dropFirst() }
        var difference: UInt8 = presented.count == value.count ? 0 : 1
        for index in 0..<value.count {
            let offset = presented.startIndex + index
            let byte = offset < presented.endIndex ? presented[offset] : 0
            difference |= byte ^ value[index]
        }
        return difference == 0
    }
}
