#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Where the daemon's socket lives. Daemon and client both resolve it here, so they always agree.
public struct SocketPath: Sendable, Hashable, CustomStringConvertible {
    /// How the path was chosen, for messages such as "is the daemon running? (socket from GIGACHATD_SOCKET)".
    public enum Source: String, Sendable {
        case flag = "--socket"
        case environment = "GIGACHATD_SOCKET"
        case runtimeDirectory = "XDG_RUNTIME_DIR"
        case temporaryDirectory = "/tmp fallback"
    }

    public static let environmentKey = "GIGACHATD_SOCKET"
    public static let directoryName = "gigachat"
    public static let fileName = "gigachatd.sock"

    public var path: String
    public var source: Source

    public init(path: String, source: Source) {
        self.path = path
        self.source = source
    }

    /// The directory that holds the socket (created 0700 by the daemon).
    public var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public var description: String { path }

    /// --socket PATH, else GIGACHATD_SOCKET, else $XDG_RUNTIME_DIR/gigachat/gigachatd.sock,
    /// else /tmp/gigachat-$UID/gigachatd.sock.
    public static func resolve(
        flag: String?,
        environment: (String) -> String? = SocketPath.processEnvironment,
        uid: UInt32 = getuid()
    ) -> SocketPath {
        if let flag, !flag.isEmpty { return SocketPath(path: flag, source: .flag) }
        if let fromEnvironment = environment(environmentKey), !fromEnvironment.isEmpty {
            return SocketPath(path: fromEnvironment, source: .environment)
        }
        if let runtime = environment("XDG_RUNTIME_DIR"), runtime.hasPrefix("/") {
            return SocketPath(path: "\(runtime)/\(directoryName)/\(fileName)", source: .runtimeDirectory)
        }
        return SocketPath(path: "/tmp/\(directoryName)-\(uid)/\(fileName)", source: .temporaryDirectory)
    }

    /// Reads the process environment without Foundation.
    public static func processEnvironment(_ key: String) -> String? {
        guard let value = getenv(key) else { return nil }
        return String(cString: value)
    }
}
