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
