import Foundation
import Testing
@testable import GigaChatAPI

@Suite(.serialized) struct ConfigurationTests {
    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "gigachat-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func usesTheSDKDefaults() throws {
        let configuration = try Configuration.load(Configuration.Sources(environment: ["XDG_RUNTIME_DIR": "/run/user/1"]))
        #expect(configuration.authURL == "https://ngw.devices.sberbank.ru:9443/api/v2/oauth")
        #expect(configuration.baseURL == "https://gigachat.devices.sberbank.ru/api/v1")
        #expect(configuration.scope == "GIGACHAT_API_PERS")
        #expect(configuration.effectiveMaxConnections == 1)
        #expect(configuration.timeoutSeconds == 30)
        #expect(configuration.tokenExpiryBufferMilliseconds == 60_000)
        #expect(configuration.socket.path == "/run/user/1/gigachat/gigachatd.sock")
    }

    @Test func flagsBeatEnvironmentWhichBeatsTheFile() throws {
        let directory = try temporaryDirectory()
        let file = directory + "/gigachatd.conf"
        try "# comment\nGIGACHAT_MODEL=FromFile\nexport GIGACHAT_SCOPE=\"GIGACHAT_API_B2B\"\nGIGACHAT_TIMEOUT='12'\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        var sources = Configuration.Sources(environment: ["GIGACHAT_MODEL": "FromEnv", "GIGACHAT_TIMEOUT": "7"])
        sources.configPath = file
        var configuration = try Configuration.load(sources)
        #expect(configuration.model == "FromEnv")
        #expect(configuration.scope == "GIGACHAT_API_B2B")
        #expect(configuration.effectiveMaxConnections == 10)
        #expect(configuration.timeoutSeconds == 7)
        sources.flags[.model] = "FromFlag"
        configuration = try Configuration.load(sources)
        #expect(configuration.model == "FromFlag")
    }

    @Test func refusesAFileOthersCanRead() throws {
        let directory = try temporaryDirectory()
        let file = directory + "/gigachatd.conf"
        try "GIGACHAT_CREDENTIALS=secret-value\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        var sources = Configuration.Sources(environment: [:])
        sources.configPath = file
        let error = #expect(throws: ConfigurationError.self) { try Configuration.load(sources) }
        #expect(error?.message.contains("chmod 600 \(file)") == true)
        #expect(error?.message.contains("secret-value") == false)
        sources.allowInsecurePermissions = true
        #expect(try Configuration.load(sources).credentials?.exposedValue == "secret-value")
    }

    @Test func systemdCredentialsWinOverTheEnvironment() throws {
        let directory = try temporaryDirectory()
        try "from-credentials\n".write(toFile: directory + "/gigachat-credentials", atomically: true, encoding: .utf8)
        let sources = Configuration.Sources(environment: ["CREDENTIALS_DIRECTORY": directory, "GIGACHAT_CREDENTIALS": "from-env"])
        #expect(try Configuration.load(sources).credentials?.exposedValue == "from-credentials")
    }

    @Test(arguments: [
        ["GIGACHAT_VERIFY_SSL_CERTS": "false"],
        ["GIGACHAT_TIMEOUT": "soon"],
        ["GIGACHAT_MAX_CONNECTIONS": "0"],
        ["GIGACHAT_BASE_URL": "ftp://example"],
        ["GIGACHAT_CERT_FILE": "/c.pem"],
        ["GIGACHAT_FLAGS": "not json"],
    ])
    func refusesBadValues(_ environment: [String: String]) {
        #expect(throws: ConfigurationError.self) { try Configuration.load(Configuration.Sources(environment: environment)) }
    }

    @Test func errorBodiesBecomeOneCleanLine() {
        #expect(ErrorBody.message(status: 404, body: Array(#"{"status":404,"message":"No such model"}"#.utf8)) == "No such model")
        #expect(ErrorBody.message(status: 400, body: Array(#"{"code":7,"message":"scope from db not fully includes consumed scope"}"#.utf8))
            == "scope from db not fully includes consumed scope (code 7)")
        let html = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>SynGX</center></body></html>"
        #expect(ErrorBody.message(status: 502, body: Array(html.utf8)) == "502 Bad Gateway")
        #expect(ErrorBody.message(status: 503, body: []) == "Service Unavailable")
    }
}
