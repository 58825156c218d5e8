import ArgumentParser
import GigaChatProtocol

/// `gigachatctl conversations show NAME`: the messages of a conversation, one turn after another.
struct ConversationsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a conversation's messages.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The conversation's name.", valueName: "name"), completion: Completions.conversationNames)
    var name: String

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.conversationsShow, params: ["name": .string(name)], options: connection) { result in
                let style = Style.standardOutput
                for message in result["messages"]?.arrayValue ?? [] {
                    let role = message["role"]?.stringValue ?? "?"
                    let label = role == "user" ? style.green(role) : role == "assistant" ? style.cyan(role) : style.yellow(role)
                    let content = message["content"]?.stringValue ?? ""
                    Output.write(style.bold(label) + ": " + content + (content.hasSuffix("\n") ? "" : "\n"))
                    if let call = message["function_call"], !call.isNull {
                        Output.write(ChatPrinter.describe(functionCall: call, style: style))
                    }
                }
            }
        }
    }
}
