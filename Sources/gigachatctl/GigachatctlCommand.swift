import ArgumentParser

/// gigachatctl: a thin client for gigachatd.
@main
struct GigachatctlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gigachatctl",
        abstract: "Talk to GigaChat through the local gigachatd daemon.",
        discussion: ClientExit.helpText,
        version: "0.1.0",
        subcommands: [ChatCommand.self, StatusCommand.self],
        defaultSubcommand: nil
    )

    /// Lets `gigachatctl --socket PATH chat ...` work as well as `gigachatctl chat --socket PATH ...`.
    @OptionGroup var connection: ConnectionOptions
}
