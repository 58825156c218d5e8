import ArgumentParser
import Foundation
import GigaChatAPI
import GigaChatDaemon
import Logging

/// The gigachatd command line: where to listen, which config file, how much to log.
@main
struct GigachatdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gigachatd",
        abstract: "Serve the GigaChat API to local scripts over a Unix socket, holding the credentials.",
        discussion: """
            Settings come from command-line flags, then the environment (the official SDK's names: \
            GIGACHAT_CREDENTIALS, GIGACHAT_SCOPE, GIGACHAT_BASE_URL, GIGACHAT_AUTH_URL, GIGACHAT_MODEL, \
            GIGACHAT_TIMEOUT, GIGACHAT_CA_BUNDLE_FILE, ...), then systemd credentials ($CREDENTIALS_DIRECTORY/\
            gigachat-credentials), then the config file (KEY=VALUE lines, default \
            $XDG_CONFIG_HOME/gigachat/gigachatd.conf). SIGHUP reloads; SIGTERM drains and exits.

            Exit status: 0 after a clean shutdown, 78 for a configuration error, 1 when the socket \
            cannot be served.
            """,
        version: GigaChatDVersion.current
    )

    @Option(name: .long, help: ArgumentHelp("Socket path (default: $GIGACHATD_SOCKET, else $XDG_RUNTIME_DIR/gigachat/gigachatd.sock).", valueName: "path"))
    var socket: String?

    @Option(name: .long, help: ArgumentHelp("KEY=VALUE config file (systemd EnvironmentFile syntax).", valueName: "path"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: Logger.Level = .info

    @Option(name: .long, help: ArgumentHelp("OAuth scope (GIGACHAT_SCOPE).", valueName: "scope"))
    var scope: String?

    @Option(name: .long, help: ArgumentHelp("Default model (GIGACHAT_MODEL).", valueName: "name"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("API base URL (GIGACHAT_BASE_URL).", valueName: "url"))
    var baseURL: String?

    @Option(name: .long, help: ArgumentHelp("OAuth URL (GIGACHAT_AUTH_URL).", valueName: "url"))
    var authURL: String?

    @Option(name: .long, help: ArgumentHelp("Requests run upstream at once (GIGACHAT_MAX_CONNECTIONS; default 1 for PERS keys, 10 otherwise).", valueName: "n"))
    var maxConnections: Int?

    @Flag(name: .long, help: "Accept config and credential files that other users can read.")
    var allowInsecurePermissions = false

    func run() async throws {
        var sources = Configuration.Sources()
        sources.socketFlag = socket
        sources.configPath = config
        sources.allowInsecurePermissions = allowInsecurePermissions
        if let scope { sources.flags[.scope] = scope }
        if let model { sources.flags[.model] = model }
        if let baseURL { sources.flags[.baseURL] = baseURL }
        if let authURL { sources.flags[.authURL] = authURL }
        if let maxConnections { sources.flags[.maxConnections] = String(maxConnections) }

        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "gigachatd")

        let configuration: Configuration
        do {
            configuration = try Configuration.load(sources)
        } catch {
            printError("gigachatd: \(error.message)")
            throw ExitCode(78)  // EX_CONFIG
        }
        do {
            try await Daemon(configuration: configuration, sources: sources, logger: logger).run()
        } catch let error as ConfigurationError {
            printError("gigachatd: \(error.message)")
            throw ExitCode(78)
        } catch let error as SocketSetupError {
            printError("gigachatd: \(error.message)")
            throw ExitCode(1)
        }
    }

    private func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
