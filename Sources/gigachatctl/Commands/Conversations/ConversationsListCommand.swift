import ArgumentParser
import GigaChatProtocol

/// `gigachatctl conversations list`: a table of the kept conversations.
struct ConversationsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the conversations.")

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.conversationsList, options: connection) { result in
                let conversations = result["conversations"]?.arrayValue ?? []
                guard !conversations.isEmpty else {
                    Output.line(Style.standardOutput.dim("No conversations. Start one with: gigachatctl chat -c NAME \"...\""))
                    return
                }
                var table = Table(["NAME", "MESSAGES", "UPDATED"], rightAligned: [1])
                for conversation in conversations {
                    table.add([
                        conversation["name"]?.displayText ?? "-", conversation["messages"]?.displayText ?? "-",
                        conversation["updated_at"]?.stringValue.flatMap(TimeText.local(iso:))
                            ?? conversation["updated_at"]?.displayText ?? "-",
                    ])
                }
                Output.write(table.render())
            }
        }
    }
}
