import GigaChatProtocol

/// A configuration problem, worded for the person who has to fix it. Never contains a secret value.
public struct ConfigurationError: ErrorShape {
    public enum Kind: Sendable, Hashable {
        /// A setting's value is not allowed, or settings contradict each other.
        case invalidValue
        /// A file the settings name is missing, unreadable, malformed or open to others.
        case file
    }

    public var kind: Kind
    public var message: String
    public var cause: ErrorCause?

    public init(_ message: String, kind: Kind = .invalidValue, cause: ErrorCause? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
