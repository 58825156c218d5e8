import ArgumentParser
import Foundation
import GigaChatAPI
import GigaChatDaemon
import GigaChatProtocol
import Logging

/// The gigachatd command line: where to listen, which config file, how much to log.
@main
struct GigachatdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gigachatd",
        abstract: "Serve the GigaChat API to local scripts over a Unix socket, holding the credentials.",
        discussion: """
            Settings come from command-line flags, then the secret files (GIGACHATD_CREDENTIALS_FILE, then \
            systemd credentials: $CREDENTIALS_DIRECTORY/gigachat-credentials), then the environment (the \
            official SDK's names: GIGACHAT_CREDENTIALS, GIGACHAT_SCOPE, GIGACHAT_BASE_URL, GIGACHAT_AUTH_URL, \
            GIGACHAT_MODEL, GIGACHAT_TIMEOUT, GIGACHAT_CA_BUNDLE_FILE, ...), then the config file (KEY=VALUE \
            lines, default $XDG_CONFIG_HOME/gigachat/gigachatd.conf). SIGHUP reloads; SIGTERM drains and exits.

            Under systemd (gigachatd.socket and gigachatd.service) it serves on the socket systemd passes, \
            reports READY/STATUS/RELOADING/STOPPING and watchdog pings through sd_notify, and logs native \
            journal entries; see docs/SYSTEMD.md.

            Exit status: 0 after a clean shutdown, 78 for a configuration error, 1 when the socket \
            cannot be served.
            """,
        version: GigaChatDVersion.current
    )

    @Option(name: .long, help: ArgumentHelp("Socket path (default: $GIGACHATD_SOCKET, else $XDG_RUNTIME_DIR/gigachat/gigachatd.sock).", valueName: "path"))
    var socket: String?

    @Option(name: .long, help: ArgumentHelp("KEY=VALUE config file (systemd EnvironmentFile syntax).", valueName: "path"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "trace, debug, info, notice, warning, error or critical. Under systemd the entries go to the journal with their fields (journalctl -o verbose).",
            valueName: "level"))
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

    @Flag(name: .long, help: "Accept config and credential files that other users can read (normally a refusal: fix them with chmod 600).")
    var allowInsecurePermissions = false

    func run() async throws {
        var sources = SettingsSources()
        sources.socketFlag = socket
        sources.configPath = config
        sources.allowInsecurePermissions = allowInsecurePermissions
        if let scope { sources.flags[Configuration.Key.scope.rawValue] = scope }
        if let model { sources.flags[Configuration.Key.model.rawValue] = model }
        if let baseURL { sources.flags[Configuration.Key.baseURL.rawValue] = baseURL }
        if let authURL { sources.flags[Configuration.Key.authURL.rawValue] = authURL }
        if let maxConnections { sources.flags[Configuration.Key.maxConnections.rawValue] = String(maxConnections) }

        // Before any secret is read: the key must never land in a core dump or a debugger.
        let hardeningProblems = ProcessHardening.apply()
        let toJournal = Self.bootstrapLogging(level: logLevel)
        let logger = Logger(label: "gigachatd")
        for problem in hardeningProblems {
            logger.warning("cannot disable core dumps / ptrace attach", metadata: ["error": "\(problem)"])
        }
        // Why gigachatd cannot run, where the person who has to fix it looks: on the terminal as one
        // plain line, in the journal as an entry of error priority.
        func fail(_ message: String) {
            if toJournal {
                logger.error("\(message)")
            } else {
                printError("gigachatd: \(message)")
            }
        }

        let settings: Settings
        do {
            settings = try SettingsLoader.load(sources)
        } catch {
            fail(error.message)
            throw ExitCode(78)  // EX_CONFIG
        }
        do {
            try await Daemon(settings: settings, sources: sources, logger: logger).run()
        } catch let error as ConfigurationError {
            fail(error.message)
            throw ExitCode(78)
        } catch let error as SocketSetupError {
            fail(error.message)
            throw ExitCode(1)
        }
    }

    /// Native journal entries (with REQUEST_ID, METHOD, ... as fields) when systemd connected stderr to
    /// the journal; plain lines on stderr otherwise, for a terminal or a log file.
    /// Returns whether the entries go to the journal.
    private static func bootstrapLogging(level: Logger.Level) -> Bool {
        let journal = JournalStream.stderrIsJournal()
        LoggingSystem.bootstrap { label in
            if journal {
                return EscapingLogHandler(JournalLogHandler(label: label, logLevel: level))
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return EscapingLogHandler(handler)
        }
        return journal
    }

    private func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
