import Foundation
import GigaChatAPI
import GigaChatOpenAI
import GigaChatProtocol
import UsageLedger

/// Where settings come from: flags, the environment (with systemd's $CREDENTIALS_DIRECTORY), the config
/// file.
public struct SettingsSources: Sendable {
    /// Values given on the command line, by key name.
    public var flags: [String: String] = [:]
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

/// Everything gigachatd runs with, read and checked at start and on every reload.
public struct Settings: Sendable {
    /// The API client's settings (GIGACHAT_*).
    public var api: Configuration
    /// The daemon's own (GIGACHATD_*).
    public var daemon: DaemonSettings
    /// The HTTP front end's.
    public var http: OpenAISettings
    /// The usage ledger's and the budgets; both take a restart.
    public var ledger: LedgerConfiguration
    public var budgets: Budgets
    /// The config file that was read, if any.
    public var configFile: String?
    /// The credentials file that was read (GIGACHATD_CREDENTIALS_FILE), if any.
    public var credentialsFile: String?
    /// Where state lives (conversations, the ledger).
    public var stateDirectory: String
    /// Directories whose files hold secrets: systemd's credentials, the config directory.
    public var secretDirectories: [String]
}

/// The one place settings are read: the config file, the environment, systemd's credentials, the
/// credentials file and the flags are merged into one set of values, strongest last, which each owner
/// (API client, daemon, HTTP front end, ledger) then reads its own keys from.
public enum SettingsLoader {
    /// The variable that names a file holding the authorization key (and nothing else), read at start and
    /// on every reload. It outranks the environment and $CREDENTIALS_DIRECTORY; only a flag beats it.
    public static let credentialsFileVariable = "GIGACHATD_CREDENTIALS_FILE"

    /// Names of the files in $CREDENTIALS_DIRECTORY (systemd LoadCredential=) and the keys they set.
    static let credentialFiles: [(file: String, key: Configuration.Key)] = [
        ("gigachat-credentials", .credentials),
        ("gigachat-password", .password),
        ("gigachat-access-token", .accessToken),
        ("gigachat-key-file-password", .keyFilePassword),
    ]

    /// Reads and checks every setting: flags beat the secret files (GIGACHATD_CREDENTIALS_FILE, then
    /// systemd's credentials), which beat the environment, which beats the config file. Refuses a config
    /// or secret file others can read.
    public static func load(_ sources: SettingsSources) throws(ConfigurationError) -> Settings {
        var merged: [String: String] = [:]
        var configFile: String?

        let explicitPath = sources.configPath
        if let path = explicitPath ?? defaultConfigPath(environment: sources.environment) {
            if FileManager.default.fileExists(atPath: path) {
                try Secret.checkPrivateFile(path, allowInsecure: sources.allowInsecurePermissions)
                let text: String
                do {
                    text = try String(contentsOfFile: path, encoding: .utf8)
                } catch {
                    throw ConfigurationError("cannot read config file \(path): \(error.localizedDescription)", kind: .file)
                }
                for (key, value) in try EnvironmentFile.parse(text, path: path) { merged[key] = value }
                configFile = path
            } else if explicitPath != nil {
                throw ConfigurationError("config file \(path) does not exist", kind: .file)
            }
        }
        let configFileSocket = merged[DaemonSettings.Key.socket.rawValue]
        for (key, value) in sources.environment where key.hasPrefix("GIGACHAT_") || key.hasPrefix("GIGACHATD_") {
            merged[key] = value
        }
        // systemd credentials win over the environment: they are what the unit was told to use.
        let credentialsDirectory = sources.environment["CREDENTIALS_DIRECTORY"].flatMap { $0.isEmpty ? nil : $0 }
        if let directory = credentialsDirectory {
            for (file, key) in credentialFiles {
                let path = "\(directory)/\(file)"
                guard FileManager.default.fileExists(atPath: path) else { continue }
                guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                    throw ConfigurationError("cannot read credential file \(path)", kind: .file)
                }
                merged[key.rawValue] = text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        // LoadCredential= copies the key once, when the service starts, so the copy above never changes
        // on reload. The unit names the file the copy came from; reading that file on every load is what
        // lets `systemctl reload` switch to a replaced key.
        var credentialsFile: String?
        if let path = merged[credentialsFileVariable], !path.isEmpty,
            let key = try readCredentialsFile(path, allowInsecure: sources.allowInsecurePermissions)
        {
            merged[Configuration.Key.credentials.rawValue] = key
            credentialsFile = path
        }
        for (key, value) in sources.flags { merged[key] = value }
        let values = SettingValues(merged)

        var socketFlag = sources.socketFlag
        if socketFlag == nil, let fromFile = configFileSocket, sources.environment[DaemonSettings.Key.socket.rawValue] == nil {
            socketFlag = fromFile  // set in the config file only
        }
        let socket = SocketPath.resolve(flag: socketFlag, environment: { sources.environment[$0] })
        let daemon = try DaemonSettings(values: values, socket: socket)
        var api = try Configuration(values: values)
        api.maxRetryAfterSeconds = daemon.maxRetryAfterSeconds
        let configDirectory = defaultConfigPath(environment: sources.environment).map { ($0 as NSString).deletingLastPathComponent }
        let http = try OpenAISettings.load(values: values, rpcSocket: socket, keyDirectory: configDirectory)
        let stateDirectory = stateDirectory(environment: sources.environment)
        let ledger: LedgerConfiguration
        let budgets: Budgets
        do {
            ledger = try LedgerConfiguration.fromEnvironment(values.values, stateDirectory: stateDirectory)
            budgets = try Budgets.parse(values.string("GIGACHATD_BUDGETS") ?? "")
        } catch {
            throw ConfigurationError(error.message)
        }

        for path in secretFilePaths(api: api, environment: sources.environment) {
            try Secret.checkPrivateFile(path, allowInsecure: sources.allowInsecurePermissions)
        }
        return Settings(
            api: api, daemon: daemon, http: http, ledger: ledger, budgets: budgets, configFile: configFile, credentialsFile: credentialsFile,
            stateDirectory: stateDirectory, secretDirectories: [credentialsDirectory, configDirectory].compactMap { $0 }
        )
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

    /// $XDG_CONFIG_HOME/gigachat/credentials (or ~/.config/...): where the docs tell people to put the key.
    public static func defaultCredentialsPath(environment: [String: String]) -> String? {
        guard let config = defaultConfigPath(environment: environment) else { return nil }
        return (config as NSString).deletingLastPathComponent + "/credentials"
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

    /// The key in `path`, trimmed, or nil when there is no such file: a unit that logs in with a password
    /// instead replaces LoadCredential= and has no key file, and the unit's setting still names one. The
    /// file must be private like every other file that holds a secret.
    static func readCredentialsFile(_ path: String, allowInsecure: Bool) throws(ConfigurationError) -> String? {
        guard path.hasPrefix("/") else {
            throw ConfigurationError("\(credentialsFileVariable) must be an absolute path, got \"\(path)\"")
        }
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        try Secret.checkPrivateFile(path, allowInsecure: allowInsecure)
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("cannot read credentials file \(path)", kind: .file)
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Plain-path files that hold secrets, which must be private too:
    /// - GIGACHAT_KEY_FILE, the private key of the client certificate;
    /// - $XDG_CONFIG_HOME/gigachat/credentials when the unit handed us the key from it (the shipped
    ///   gigachatd.service has LoadCredential=gigachat-credentials:%E/gigachat/credentials). systemd
    ///   copies the file whatever its mode, so this is the only place a key readable by others is noticed.
    ///
    /// Files in $CREDENTIALS_DIRECTORY are systemd's private copies and need no check.
    static func secretFilePaths(api: Configuration, environment: [String: String]) -> [String] {
        var paths: [String] = []
        if let keyFile = api.keyFile { paths.append(keyFile) }
        if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty,
            FileManager.default.fileExists(atPath: "\(directory)/gigachat-credentials"),
            let source = defaultCredentialsPath(environment: environment),
            FileManager.default.fileExists(atPath: source)
        {
            paths.append(source)
        }
        return paths
    }
}
