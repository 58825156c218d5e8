import ArgumentParser
import GigaChatProtocol

/// `gigachatctl conversations delete NAME`: forgets a conversation.
struct ConversationsDeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a conversation.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The conversation's name.", valueName: "name"), completion: Completions.conversationNames)
    var name: String

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.conversationsDelete, params: ["name": .string(name)], options: connection) { _ in
                Output.line("Deleted conversation \(name).")
            }
        }
    }
}
