import Foundation
import GigaChatAPI
import Testing

@testable import GigaChatDaemon

@Suite(.serialized) struct SettingsLoaderTests {
    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "gigachat-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func usesTheSDKDefaults() throws {
        let configuration = try SettingsLoader.load(SettingsSources(environment: ["XDG_RUNTIME_DIR": "/run/user/1"]))
        #expect(configuration.api.authURL == "https://ngw.devices.sberbank.ru:9443/api/v2/oauth")
        #expect(configuration.api.baseURL == "https://api.giga.chat/v1")
        #expect(configuration.api.v2ChatURL == "https://api.giga.chat/v2/chat/completions")
        #expect(configuration.api.scope == "GIGACHAT_API_PERS")
        #expect(configuration.api.effectiveMaxConnections == 1)
        #expect(configuration.api.timeoutSeconds == 30)
        #expect(configuration.api.tokenExpiryBufferMilliseconds == 60_000)
        #expect(configuration.daemon.socket.path == "/run/user/1/gigachat/gigachatd.sock")
    }

    @Test func flagsBeatEnvironmentWhichBeatsTheFile() throws {
        let directory = try temporaryDirectory()
        let file = directory + "/gigachatd.conf"
        try "# comment\nGIGACHAT_MODEL=FromFile\nexport GIGACHAT_SCOPE=\"GIGACHAT_API_B2B\"\nGIGACHAT_TIMEOUT='12'\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        var sources = SettingsSources(environment: ["GIGACHAT_MODEL": "FromEnv", "GIGACHAT_TIMEOUT": "7"])
        sources.configPath = file
        var configuration = try SettingsLoader.load(sources)
        #expect(configuration.api.model == "FromEnv")
        #expect(configuration.api.scope == "GIGACHAT_API_B2B")
        #expect(configuration.api.effectiveMaxConnections == 10)
        #expect(configuration.api.timeoutSeconds == 7)
        sources.flags["GIGACHAT_MODEL"] = "FromFlag"
        configuration = try SettingsLoader.load(sources)
        #expect(configuration.api.model == "FromFlag")
    }

    @Test func refusesAFileOthersCanRead() throws {
        let directory = try temporaryDirectory()
        let file = directory + "/gigachatd.conf"
        try "GIGACHAT_CREDENTIALS=secret-value\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        var sources = SettingsSources(environment: [:])
        sources.configPath = file
        let error = #expect(throws: ConfigurationError.self) { try SettingsLoader.load(sources) }
        #expect(error?.message.contains("chmod 600 \(file)") == true)
        #expect(error?.message.contains("secret-value") == false)
        #expect(error?.kind == .file)
        sources.allowInsecurePermissions = true
        #expect(try SettingsLoader.load(sources).api.credentials?.exposedValue == "secret-value")
    }

    @Test func systemdCredentialsWinOverTheEnvironment() throws {
        let directory = try temporaryDirectory()
        try "from-credentials\n".write(toFile: directory + "/gigachat-credentials", atomically: true, encoding: .utf8)
        let sources = SettingsSources(environment: ["CREDENTIALS_DIRECTORY": directory, "GIGACHAT_CREDENTIALS": "from-env"])
        #expect(try SettingsLoader.load(sources).api.credentials?.exposedValue == "from-credentials")
    }

    /// Each bad value is refused by its own rule, with a message that names the key.
    @Test(arguments: [
        (["GIGACHAT_VERIFY_SSL_CERTS": "false"], "GIGACHAT_VERIFY_SSL_CERTS=false is not supported"),
        (["GIGACHAT_TIMEOUT": "soon"], "GIGACHAT_TIMEOUT must be a number from 0.001 to 3600"),
        (["GIGACHAT_TIMEOUT": "2e6"], "GIGACHAT_TIMEOUT must be a number from 0.001 to 3600"),
        (["GIGACHATD_DRAIN_TIMEOUT": "1e16"], "GIGACHATD_DRAIN_TIMEOUT must be a number from 0 to 3600"),
        (["GIGACHATD_MAX_RETRY_AFTER": "inf"], "GIGACHATD_MAX_RETRY_AFTER must be a number from 0 to 3600"),
        (["GIGACHAT_MAX_CONNECTIONS": "0"], "GIGACHAT_MAX_CONNECTIONS must be a whole number from 1 to 100"),
        (["GIGACHATD_MAX_REQUESTS": "-1"], "GIGACHATD_MAX_REQUESTS must be a whole number from 1 to 1000000"),
        (["GIGACHAT_BASE_URL": "ftp://example"], "GIGACHAT_BASE_URL must be an http(s) URL"),
        (["GIGACHAT_CERT_FILE": "/c.pem"], "GIGACHAT_CERT_FILE and GIGACHAT_KEY_FILE must be set together"),
        (["GIGACHAT_FLAGS": "not json"], "GIGACHAT_FLAGS must be a JSON list of strings"),
        (["GIGACHAT_SCOPE": "GIGACHAT_API_OOPS"], "GIGACHAT_SCOPE must be one of"),
    ])
    func refusesBadValues(_ environment: [String: String], _ rule: String) {
        let error = #expect(throws: ConfigurationError.self) { try SettingsLoader.load(SettingsSources(environment: environment)) }
        #expect(error?.message.hasPrefix(rule) == true, "\(error?.message ?? "no error")")
    }

    @Test func everyRangeEndIsAccepted() throws {
        let edges: [String: String] = [
            "GIGACHAT_TIMEOUT": "3600", "GIGACHATD_DRAIN_TIMEOUT": "0", "GIGACHATD_MAX_RETRY_AFTER": "3600",
            "GIGACHATD_CLIENT_STALL_TIMEOUT": "1", "GIGACHATD_REQUEST_TIMEOUT": "86400", "GIGACHAT_MAX_RETRIES": "10",
            "GIGACHATD_MAX_PENDING_BYTES": "1048576",
        ]
        let configuration = try SettingsLoader.load(SettingsSources(environment: edges))
        #expect(configuration.api.timeoutSeconds == 3600)
        #expect(configuration.daemon.requestTimeoutSeconds == 86400)
        #expect(configuration.daemon.maxPendingBytes == 1 << 20)
    }

    @Test func aReloadKeepsTheTokenUnlessWhatFetchesItChanged() throws {
        let first = try SettingsLoader.load(SettingsSources(environment: ["GIGACHAT_CREDENTIALS": "k1", "GIGACHAT_MODEL": "A"]))
        let sameKey = try SettingsLoader.load(SettingsSources(environment: ["GIGACHAT_CREDENTIALS": "k1", "GIGACHAT_MODEL": "B"]))
        let newKey = try SettingsLoader.load(SettingsSources(environment: ["GIGACHAT_CREDENTIALS": "k2", "GIGACHAT_MODEL": "A"]))
        #expect(first.api.tokenSource == sameKey.api.tokenSource)
        #expect(first.api.tokenSource != newKey.api.tokenSource)
    }

    @Test func everyOwnerReadsTheConfigFileToo() throws {
        let directory = try temporaryDirectory()
        let file = directory + "/gigachatd.conf"
        try """
        GIGACHATD_BUDGETS={"default":{"daily_tokens":100}}
        GIGACHATD_OPENAI_MODEL_ALIASES={"gpt-4o":"GigaChat-2-Max"}
        GIGACHATD_MAX_RETRY_AFTER=7
        GIGACHATD_LEDGER_RETENTION_DAYS=3

        """.write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        var sources = SettingsSources(environment: ["XDG_RUNTIME_DIR": "/run/user/1"])
        sources.configPath = file
        let settings = try SettingsLoader.load(sources)
        #expect(settings.budgets.rules.count == 1)
        #expect(settings.http.modelAliases == ["gpt-4o": "GigaChat-2-Max"])
        #expect(settings.ledger.retentionDays == 3)
        #expect(settings.daemon.maxRetryAfterSeconds == 7)
        #expect(settings.api.maxRetryAfterSeconds == 7, "the API client's retry policy gets the daemon's setting")
        #expect(settings.configFile == file)
    }

    @Test func aBadHTTPOrLedgerSettingIsAConfigurationError() {
        for environment in [["GIGACHATD_HTTP_LISTEN": "0.0.0.0:80"], ["GIGACHATD_BUDGETS": "[1]"]] {
            let error = #expect(throws: ConfigurationError.self) { try SettingsLoader.load(SettingsSources(environment: environment)) }
            #expect(error?.message.contains(environment.keys.first ?? "") == true)
        }
    }

    @Test func onlyTheSocketTakesARestart() {
        #expect(DaemonSettings.Key.allCases.filter { $0.applied == .atRestart } == [.socket])
    }
}
