import Foundation
import GigaChatAPI
import GigaChatProtocol

/// The HTTP front end's settings (GIGACHATD_OPENAI_*, GIGACHATD_HTTP_LISTEN), from the values the daemon
/// read; kept apart from `Configuration`, which describes the upstream API. The sockets take a restart;
/// the aliases change on reload.
public struct OpenAISettings: Sendable, Equatable {
    /// What a front end's requests may hold and take, owned by the daemon's settings (they apply to its
    /// JSON-RPC side as well) and read per request, so a reload applies at once.
    public struct Limits: Sendable, Equatable {
        public var requestTimeoutSeconds: Double
        public var clientStallTimeoutSeconds: Double
        public var maxLineBytes: Int
        public var maxPendingBytes: Int
        public var maxRequests: Int

        public init(requestTimeoutSeconds: Double, clientStallTimeoutSeconds: Double, maxLineBytes: Int, maxPendingBytes: Int, maxRequests: Int) {
            self.requestTimeoutSeconds = requestTimeoutSeconds
            self.clientStallTimeoutSeconds = clientStallTimeoutSeconds
            self.maxLineBytes = maxLineBytes
            self.maxPendingBytes = maxPendingBytes
            self.maxRequests = maxRequests
        }
    }

    public enum Key: String, CaseIterable, Sendable {
        /// Path of the HTTP Unix socket; `off` disables it. Default: `openai.sock` beside the JSON-RPC socket.
        case socket = "GIGACHATD_OPENAI_SOCKET"
        /// `127.0.0.1:PORT` (or `[::1]:PORT`, `localhost:PORT`): also serve HTTP on loopback TCP, with a key.
        case httpListen = "GIGACHATD_HTTP_LISTEN"
        /// A JSON object mapping model names clients send (`gpt-4o`) to GigaChat models.
        case modelAliases = "GIGACHATD_OPENAI_MODEL_ALIASES"
    }

    public static let socketFileName = "openai.sock"
    public static let keyFileName = ProtocolDefaults.httpKeyFileName

    /// Where the HTTP Unix socket lives; nil when it is switched off.
    public var socketPath: String?
    /// The loopback address to serve on as well, if any.
    public var tcp: TCPAddress?
    /// Client model name → GigaChat model name.
    public var modelAliases: [String: String] = [:]
    /// The local key TCP clients must present ($XDG_CONFIG_HOME/gigachat/http-key).
    public var keyFile: String?

    public struct TCPAddress: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public init(socketPath: String?, tcp: TCPAddress? = nil, modelAliases: [String: String] = [:], keyFile: String? = nil) {
        self.socketPath = socketPath
        self.tcp = tcp
        self.modelAliases = modelAliases
        self.keyFile = keyFile
    }

    /// The settings the merged values describe. `keyDirectory` is where the local key lives
    /// ($XDG_CONFIG_HOME/gigachat); nil when there is no such place.
    public static func load(values: SettingValues, rpcSocket: SocketPath, keyDirectory: String?) throws(ConfigurationError) -> OpenAISettings {
        func value(_ key: Key) -> String? { values.string(key.rawValue) }

        var settings = OpenAISettings(socketPath: rpcSocket.directory + "/" + socketFileName)
        if let path = value(.socket) {
            switch path.lowercased() {
            case "off", "none", "false", "0", "no":
                settings.socketPath = nil
            default:
                guard path.hasPrefix("/") else {
                    throw ConfigurationError("\(Key.socket.rawValue) must be an absolute path or \"off\", got \"\(path)\"")
                }
                settings.socketPath = path
            }
        }
        if let text = value(.httpListen), !["off", "none"].contains(text.lowercased()) {
            settings.tcp = try parseListen(text)
        }
        if let text = value(.modelAliases) {
            settings.modelAliases = try parseAliases(text)
        }
        if let keyDirectory { settings.keyFile = keyDirectory + "/" + keyFileName }
        if settings.tcp != nil, settings.keyFile == nil {
            throw ConfigurationError("\(Key.httpListen.rawValue) needs a place for the local key: set XDG_CONFIG_HOME or HOME")
        }
        return settings
    }

    /// `HOST:PORT` with a loopback host only: any local user can reach a TCP port, and nobody else may.
    static func parseListen(_ text: String) throws(ConfigurationError) -> TCPAddress {
        let failure = ConfigurationError(
            "\(Key.httpListen.rawValue) must be a loopback address and port such as 127.0.0.1:8080 or [::1]:8080, got \"\(text)\""
        )
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw failure }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw failure }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw failure }
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (1...65535).contains(port) else { throw failure }
        guard isLoopback(host) else {
            throw ConfigurationError(
                "\(Key.httpListen.rawValue)=\(text) is not a loopback address; gigachatd serves HTTP on 127.0.0.0/8 or ::1 only "
                    + "(use the Unix socket \(socketFileName), or an SSH tunnel, to reach it from elsewhere)"
            )
        }
        return TCPAddress(host: host == "localhost" ? "127.0.0.1" : host, port: port)
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in
            guard let number = Int(part), part.count <= 3 else { return false }
            return (0...255).contains(number)
        }
    }

    static func parseAliases(_ text: String) throws(ConfigurationError) -> [String: String] {
        guard case .object(let object)? = try? JSONValue(parsing: text) else {
            throw ConfigurationError(
                "\(Key.modelAliases.rawValue) must be a JSON object such as {\"gpt-4o\":\"GigaChat-2-Max\"}, got \"\(text)\""
            )
        }
        var aliases: [String: String] = [:]
        for (name, target) in object {
            guard let model = target.stringValue, !model.isEmpty, !name.isEmpty else {
                throw ConfigurationError("\(Key.modelAliases.rawValue): the alias \"\(name)\" must map to a non-empty model name")
            }
            aliases[name] = model
        }
        return aliases
    }
}
