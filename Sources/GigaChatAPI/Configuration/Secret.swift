import Foundation
import GigaChatProtocol

/// A credential (authorization key, password, access token) that must never be printed.
///
/// Its description is a fixed placeholder, so string interpolation into logs, errors or status can
/// never leak the value; code that really needs it reads `exposedValue`, which is easy to audit.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let exposedValue: String

    public init(_ value: String) {
        self.exposedValue = value
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

extension Secret {
    /// Refuses a file that group or others may read: it holds secrets.
    public static func checkPrivateFile(_ path: String, allowInsecure: Bool) throws(ConfigurationError) {
        guard !allowInsecure else { return }
        var info = stat()
        guard stat(path, &info) == 0 else {
            let cause = ErrorCause.lastErrno
            throw ConfigurationError("cannot stat \(path): \(cause)", kind: .file, cause: cause)
        }
        if info.st_mode & 0o077 != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw ConfigurationError(
                "\(path) is readable by other users (mode \(mode)) but may hold secrets; fix it with: chmod 600 \(path) "
                    + "(or pass --allow-insecure-permissions)",
                kind: .file
            )
        }
    }
}
