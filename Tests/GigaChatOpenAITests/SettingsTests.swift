import GigaChatAPI
import GigaChatProtocol
import Testing

@testable import GigaChatOpenAI

@Suite struct SettingsTests {
    let rpc = SocketPath(path: "/run/user/1000/gigachat/gigachatd.sock", source: .runtimeDirectory)

    @Test func defaultsPutTheSocketBesideTheJSONRPCOne() throws {
        let settings = try OpenAISettings.load(values: SettingValues(), rpcSocket: rpc, keyDirectory: "/home/u/.config/gigachat")
        #expect(settings.socketPath == "/run/user/1000/gigachat/openai.sock")
        #expect(settings.tcp == nil)
        #expect(settings.keyFile == "/home/u/.config/gigachat/http-key")
        let off = try OpenAISettings.load(
            values: SettingValues(["GIGACHATD_OPENAI_SOCKET": "off", "GIGACHATD_OPENAI_MODEL_ALIASES": #"{"a":"b"}"#]), rpcSocket: rpc, keyDirectory: nil
        )
        #expect(off.socketPath == nil && off.modelAliases == ["a": "b"])
    }

    @Test func loopbackOnly() throws {
        #expect(try OpenAISettings.parseListen("127.0.0.1:8080") == .init(host: "127.0.0.1", port: 8080))
        #expect(try OpenAISettings.parseListen("[::1]:9") == .init(host: "::1", port: 9))
        #expect(try OpenAISettings.parseListen("localhost:80").host == "127.0.0.1")
        for bad in ["0.0.0.0:80", "192.168.1.2:80", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "example.com:80", "[::]:80"] {
            #expect(throws: ConfigurationError.self) { try OpenAISettings.parseListen(bad) }
        }
    }

    @Test func aliasesAreAJSONObjectOfNames() throws {
        #expect(try OpenAISettings.parseAliases(#"{"gpt-4o":"GigaChat-2-Max"}"#) == ["gpt-4o": "GigaChat-2-Max"])
        #expect(throws: ConfigurationError.self) { try OpenAISettings.parseAliases(#"["gpt-4o"]"#) }
        #expect(throws: ConfigurationError.self) { try OpenAISettings.parseAliases(#"{"gpt-4o":1}"#) }
    }
}
