import Foundation
import GigaChatAPI
import Logging
import Testing

@testable import GigaChatDaemon

@Suite struct ReloadSourcesTests {
    @Test func valuesSystemdTookFromTheConfigFileAreLeftToTheFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gigachatd-reload-\(getpid()).conf").path
        try "GIGACHAT_MODEL=GigaChat-2\nGIGACHAT_SCOPE=GIGACHAT_API_B2B\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sources = SettingsSources(environment: [
            "GIGACHAT_MODEL": "GigaChat-2",  // as EnvironmentFile= loaded it
            "GIGACHAT_SCOPE": "GIGACHAT_API_CORP",  // set in the unit: stays stronger than the file
            "HOME": "/home/someone",
        ])
        let reloading = Daemon.reloadSources(sources, configFile: path)
        #expect(reloading.environment["GIGACHAT_MODEL"] == nil)
        #expect(reloading.environment["GIGACHAT_SCOPE"] == "GIGACHAT_API_CORP")
        #expect(reloading.environment["HOME"] == "/home/someone")
        #expect(Daemon.reloadSources(sources, configFile: nil).environment == sources.environment)
    }
}
