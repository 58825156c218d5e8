import ArgumentParser

/// gigachatctl: a thin client for gigachatd.
@main
struct GigachatctlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gigachatctl",
        abstract: "Talk to GigaChat through the local gigachatd daemon.",
        discussion: """
            Each command is one request to gigachatd over its Unix socket; the daemon holds the \
            credentials and talks to the API. Output is for people: replies stream as they arrive, \
            lists are aligned tables, colour only on a terminal and never with NO_COLOR. With --json \
            the protocol's lines are printed instead, one JSON object per line, for jq and scripts.

            \(ClientExit.helpText)
            """,
        version: "0.1.0",
        subcommands: [
            ChatCommand.self, ModelsCommand.self, EmbedCommand.self, TokensCommand.self, BalanceCommand.self,
            FilesCommand.self, ConversationsCommand.self, StatusCommand.self,
        ],
        defaultSubcommand: nil
    )

    /// Lets `gigachatctl --socket PATH chat ...` work as well as `gigachatctl chat --socket PATH ...`.
    @OptionGroup var connection: ConnectionOptions
}
