import ArgumentParser

/// `gigachatctl conversations`: the conversations gigachatd keeps for `chat -c NAME`.
struct ConversationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversations",
        abstract: "List, show and delete the conversations gigachatd keeps (chat -c NAME).",
        discussion: "They are stored in $XDG_STATE_HOME/gigachat/conversations/NAME.json, readable only by you.",
        subcommands: [ConversationsListCommand.self, ConversationsShowCommand.self, ConversationsDeleteCommand.self],
        defaultSubcommand: ConversationsListCommand.self
    )
}
