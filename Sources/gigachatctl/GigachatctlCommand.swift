import ArgumentParser
import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// gigachatctl: a thin client for gigachatd.
@main
struct GigachatctlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gigachatctl",
        abstract: "Talk to GigaChat through the local gigachatd daemon.",
        discussion: """
            Each command is one request to gigachatd over its Unix socket; the daemon holds the \
            credentials and talks to the API. Output is for people: replies stream as they arrive, \
            lists are aligned tables, colour only on a terminal and never with NO_COLOR or TERM=dumb. \
            With --json the protocol's lines are printed instead, one JSON object per line, for jq and \
            scripts.

            gigachatctl waits \(Int(CallLimits.defaultFirstLineSeconds)) s for gigachatd's first word \
            (--connect-timeout), then gives up with status 3; --timeout limits a whole request.

            \(ClientExit.helpText)
            """,
        version: GigaChatDVersion.current,
        subcommands: [
            ChatCommand.self, ModelsCommand.self, EmbedCommand.self, TokensCommand.self, BalanceCommand.self,
            FilesCommand.self, ConversationsCommand.self, StatusCommand.self, UsageCommand.self, LogCommand.self,
            AICheckCommand.self, HTTPKeyCommand.self,
        ],
        defaultSubcommand: nil
    )

    /// Lets `gigachatctl --socket PATH chat ...` work as well as `gigachatctl chat --socket PATH ...`.
    @OptionGroup var connection: ConnectionOptions

    /// `gigachatctl` alone: the help, then the status of bad usage, so that a script which lost its
    /// subcommand fails instead of carrying on.
    func run() throws {
        Output.write(Self.helpMessage(), to: STDERR_FILENO)
        throw ClientExit.usage
    }

    /// ArgumentParser's own `main()`, with usage errors worded like every other error of gigachatctl.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let misread = UsageErrorText.misreadPrompt(in: arguments) {
            Output.write(misread, to: STDERR_FILENO)
            Glibc.exit(ClientExit.usage.rawValue)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let full = fullMessage(for: error)
            guard exitCode(for: error) == ClientExit.usage, !full.isEmpty else { exit(withError: error) }
            Output.write(UsageErrorText.render(message: message(for: error), full: full, arguments: arguments), to: STDERR_FILENO)
            Glibc.exit(ClientExit.usage.rawValue)
        }
    }
}
