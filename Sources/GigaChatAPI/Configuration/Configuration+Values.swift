import Foundation
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

extension Configuration {
    /// Where the values came from, for loading.
    public struct Sources: Sendable {
        /// Values given on the command line, by key.
        public var flags: [Key: String] = [:]
        /// --socket, which is not a KEY=VALUE setting of its own.
        public var socketFlag: String?
        public var environment: [String: String] = ProcessInfo.processInfo.environment
        /// --config; nil means the default path, which may be absent.
        public var configPath: String?
        /// Accept config and credential files that others can read.
        public var allowInsecurePermissions = false

        public init() {}

        public init(environment: [String: String]) {
            self.environment = environment
        }
    }

    /// $XDG_CONFIG_HOME/gigachat/gigachatd.conf (or ~/.config/...).
    public static func defaultConfigPath(environment: [String: String]) -> String? {
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            return "\(xdg)/gigachat/gigachatd.conf"
        }
        if let home = environment["HOME"], home.hasPrefix("/") {
            return "\(home)/.config/gigachat/gigachatd.conf"
        }
        return nil
    }

    /// $XDG_STATE_HOME/gigachat (or ~/.local/state/gigachat): conversations and other state.
    ///
    /// Under systemd, the unit's StateDirectory= ($STATE_DIRECTORY) comes first: with ProtectHome=read-only
    /// it is the only place in the home directory the service may write. For a user unit that is
    /// ~/.local/state/gigachat from systemd 254 on, but ~/.config/gigachat on systemd 252.
    public static func stateDirectory(environment: [String: String]) -> String {
        if let directories = environment["STATE_DIRECTORY"], let first = directories.split(separator: ":").first,
            first.hasPrefix("/")
        {
            return String(first)
        }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return "\(xdg)/gigachat" }
        if let home = environment["HOME"], home.hasPrefix("/") { return "\(home)/.local/state/gigachat" }
        return "/tmp/gigachat-\(getuid())/state"
    }

    /// Reads and validates the configuration: flags beat the secret files (GIGACHATD_CREDENTIALS_FILE, then
    /// systemd's credentials), which beat the environment, which beats the config file.
    public static func load(_ sources: Sources) throws(ConfigurationError) -> Configuration {
        var values: [Key: String] = [:]
        var configFile: String?
        var credentialsFile: String?

        let explicitPath = sources.configPath
        if let path = explicitPath ?? defaultConfigPath(environment: sources.environment) {
            if FileManager.default.fileExists(atPath: path) {
                try checkPrivate(path, allowInsecure: sources.allowInsecurePermissions)
                let text: String
                do {
                    text = try String(contentsOfFile: path, encoding: .utf8)
                } catch {
                    throw ConfigurationError("cannot read config file \(path): \(error.localizedDescription)", kind: .file)
                }
                for (key, value) in try EnvironmentFile.parse(text, path: path) {
                    if key == credentialsFileVariable { credentialsFile = value }
                    guard let known = Key(rawValue: key) else { continue }
                    values[known] = value
                }
                configFile = path
            } else if explicitPath != nil {
                throw ConfigurationError("config file \(path) does not exist", kind: .file)
            }
        }

        for key in Key.allCases {
            if let value = sources.environment[key.rawValue] { values[key] = value }
        }
        // systemd credentials win over the environment: they are what the unit was told to use.
        if let directory = sources.environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            for (file, key) in credentialFiles {
                let path = "\(directory)/\(file)"
                guard FileManager.default.fileExists(atPath: path) else { continue }
                guard let data = FileManager.default.contents(atPath: path),
                    let text = String(data: data, encoding: .utf8)
                else {
                    throw ConfigurationError("cannot read credential file \(path)", kind: .file)
                }
                values[key] = text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        // LoadCredential= copies the key once, when the service starts, so the copy above never changes
        // on reload. The unit names the file the copy came from; reading that file on every load is what
        // lets `systemctl reload` switch to a replaced key.
        var credentialsFileRead: String?
        if let path = sources.environment[credentialsFileVariable] ?? credentialsFile, !path.isEmpty,
            let key = try readCredentialsFile(path, allowInsecure: sources.allowInsecurePermissions)
        {
            values[.credentials] = key
            credentialsFileRead = path
        }
        for (key, value) in sources.flags { values[key] = value }

        var socketFlag = sources.socketFlag
        if socketFlag == nil, let fromValues = values[.socket], sources.environment[Key.socket.rawValue] == nil {
            socketFlag = fromValues  // set in the config file only
        }
        let socket = SocketPath.resolve(flag: socketFlag, environment: { sources.environment[$0] })
        var configuration = Configuration(socket: socket)
        configuration.configFile = configFile
        configuration.credentialsFile = credentialsFileRead
        try configuration.apply(values)
        return configuration
    }

    /// The variable that names a file holding the authorization key (and nothing else), read at start and
    /// on every reload. It outranks the environment and $CREDENTIALS_DIRECTORY; only a flag beats it.
    public static let credentialsFileVariable = "GIGACHATD_CREDENTIALS_FILE"

    /// The key in `path`, trimmed, or nil when there is no such file: a unit that logs in with a password
    /// instead replaces LoadCredential= and has no key file, and the unit's setting still names one. The
    /// file must be private like every other file that holds a secret.
    static func readCredentialsFile(_ path: String, allowInsecure: Bool) throws(ConfigurationError) -> String? {
        guard path.hasPrefix("/") else {
            throw ConfigurationError("\(credentialsFileVariable) must be an absolute path, got \"\(path)\"")
        }
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        try checkPrivate(path, allowInsecure: allowInsecure)
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("cannot read credentials file \(path)", kind: .file)
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Refuses a file that group or others may read: it holds secrets.
    public static func checkPrivate(_ path: String, allowInsecure: Bool) throws(ConfigurationError) {
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

    private mutating func apply(_ values: [Key: String]) throws(ConfigurationError) {
        func nonEmpty(_ key: Key) -> String? {
            guard let value = values[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        // Every number has a range, checked here at start and on reload, so nothing later can trap or
        // misbehave on a value the loader accepted.
        func number(_ key: Key, _ range: ClosedRange<Double>) throws(ConfigurationError) -> Double? {
            guard let text = nonEmpty(key) else { return nil }
            guard let value = Double(text), value.isFinite, range.contains(value) else {
                throw ConfigurationError(
                    "\(key.rawValue) must be a number from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound)), got \"\(text)\""
                )
            }
            return value
        }
        func integer(_ key: Key, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let text = nonEmpty(key) else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw ConfigurationError("\(key.rawValue) must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
            }
            return value
        }
        func boolean(_ key: Key) throws(ConfigurationError) -> Bool? {
            guard let text = nonEmpty(key) else { return nil }
            switch text.lowercased() {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: throw ConfigurationError("\(key.rawValue) must be true or false, got \"\(text)\"")
            }
        }
        func url(_ key: Key) throws(ConfigurationError) -> String? {
            guard let text = nonEmpty(key) else { return nil }
            guard text.hasPrefix("https://") || text.hasPrefix("http://") else {
                throw ConfigurationError("\(key.rawValue) must be an http(s) URL, got \"\(text)\"")
            }
            return text
        }

        credentials = nonEmpty(.credentials).map(Secret.init)
        if let value = nonEmpty(.scope) {
            // A wrong scope fails every OAuth call the same way; refusing it at start says so once.
            guard Self.scopes.contains(value) else {
                throw ConfigurationError("GIGACHAT_SCOPE must be one of \(Self.scopes.joined(separator: ", ")), got \"\(value)\"")
            }
            scope = value
        }
        if let value = try url(.authURL) { authURL = value }
        if let value = try url(.baseURL) { baseURL = value }
        accessToken = nonEmpty(.accessToken).map(Secret.init)
        user = nonEmpty(.user)
        password = nonEmpty(.password).map(Secret.init)
        if let value = nonEmpty(.model) { model = value }
        profanityCheck = try boolean(.profanityCheck)
        if let value = try number(.timeout, Limits.timeoutSeconds) { timeoutSeconds = value }
        if try boolean(.verifySSLCerts) == false {
            throw ConfigurationError(
                "GIGACHAT_VERIFY_SSL_CERTS=false is not supported: gigachatd always verifies TLS certificates. "
                    + "Trust an extra CA with GIGACHAT_CA_BUNDLE_FILE instead."
            )
        }
        caBundleFile = nonEmpty(.caBundleFile)
        certFile = nonEmpty(.certFile)
        keyFile = nonEmpty(.keyFile)
        keyFilePassword = nonEmpty(.keyFilePassword).map(Secret.init)
        if (certFile == nil) != (keyFile == nil) {
            throw ConfigurationError("GIGACHAT_CERT_FILE and GIGACHAT_KEY_FILE must be set together")
        }
        if let text = nonEmpty(.flags) {
            guard case .array(let items)? = try? JSONValue(parsing: text),
                let strings = Optional(items.compactMap(\.stringValue)), strings.count == items.count
            else {
                throw ConfigurationError("GIGACHAT_FLAGS must be a JSON list of strings, got \"\(text)\"")
            }
            flags = strings
        }
        maxConnections = try integer(.maxConnections, Limits.maxConnections)
        if let value = try integer(.maxRetries, Limits.maxRetries) { maxRetries = value }
        if let value = try number(.retryBackoffFactor, Limits.retryBackoffFactor) { retryBackoffFactor = value }
        if let text = nonEmpty(.retryOnStatusCodes) {
            guard case .array(let items)? = try? JSONValue(parsing: text) else {
                throw ConfigurationError("GIGACHAT_RETRY_ON_STATUS_CODES must be a JSON list such as [429,503], got \"\(text)\"")
            }
            var codes = Set<Int>()
            for item in items {
                guard let code = item.intValue, (100...599).contains(code) else {
                    throw ConfigurationError("GIGACHAT_RETRY_ON_STATUS_CODES must list HTTP status codes, got \"\(text)\"")
                }
                codes.insert(Int(code))
            }
            retryOnStatusCodes = codes
        }
        if let value = try integer(.tokenExpiryBufferMs, Limits.tokenExpiryBufferMilliseconds) { tokenExpiryBufferMilliseconds = Int64(value) }
        if let value = try integer(.maxLineBytes, Limits.maxLineBytes) { maxLineBytes = value }
        if let value = try number(.drainTimeout, Limits.drainTimeoutSeconds) { drainTimeoutSeconds = value }
        if let value = try number(.maxRetryAfter, Limits.maxRetryAfterSeconds) { maxRetryAfterSeconds = value }
        if let value = try number(.clientStallTimeout, Limits.clientStallTimeoutSeconds) { clientStallTimeoutSeconds = value }
        if let value = try number(.requestTimeout, Limits.requestTimeoutSeconds) { requestTimeoutSeconds = value }
        if let value = try integer(.maxRequestsPerConnection, Limits.maxRequestsPerConnection) { maxRequestsPerConnection = value }
        if let value = try integer(.maxRequests, Limits.maxRequests) { maxRequests = value }
        if let value = try integer(.maxPendingBytes, Limits.maxPendingBytes) { maxPendingBytes = value }
        if let value = try number(.balanceInterval, Limits.balanceIntervalSeconds) { balanceIntervalSeconds = value }
        if let value = try integer(.balanceWarning, Limits.balanceWarning) { balanceWarning = value }
        if (user == nil) != (password == nil), accessToken == nil, credentials == nil {
            throw ConfigurationError("GIGACHAT_USER and GIGACHAT_PASSWORD must be set together")
        }
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
