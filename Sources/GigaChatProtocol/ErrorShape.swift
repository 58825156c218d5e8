#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The one shape every error of ours has, as NIO's and swift-service-lifecycle's errors do: a kind for
/// code to branch on, a message for people, and the failure underneath kept as data rather than folded
/// into the text.
public protocol ErrorShape: Error, Sendable, CustomStringConvertible {
    associatedtype Kind: Hashable & Sendable
    /// What went wrong, for callers to decide on (retry, exit status, RPC error code).
    var kind: Kind { get }
    /// What a person reads: what failed and, where there is one, what to do about it.
    var message: String { get }
    /// The failure underneath: an errno, a CURLcode, an HTTP status, an SQLite result code.
    var cause: ErrorCause? { get }
}

/// A failure underneath one of our errors.
public enum ErrorCause: Sendable, Hashable, CustomStringConvertible {
    /// A system call's `errno`.
    case errno(Int32)
    /// A libcurl `CURLcode`.
    case curl(Int32)
    /// The HTTP status a server answered.
    case httpStatus(Int)
    /// An SQLite result code.
    case sqlite(Int32)

    /// The calling thread's `errno`, read now: take it right after the call that failed.
    public static var lastErrno: ErrorCause { .errno(Glibc.errno) }

    /// The system's text for an errno; the code's number for the others (their libraries' texts are
    /// already in the message that carries them).
    public var description: String {
        switch self {
        case .errno(let number): return String(cString: strerror(number))
        case .curl(let code): return "CURLcode \(code)"
        case .httpStatus(let status): return "HTTP \(status)"
        case .sqlite(let code): return "SQLite code \(code)"
        }
    }
}
