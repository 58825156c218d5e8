import ArgumentParser
import GigaChatProtocol

/// `gigachatctl conversations show NAME`: the messages of a conversation, one turn after another.
struct ConversationsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a conversation's messages.",
        discussion: """
            On a terminal, control characters in the messages are shown instead of obeyed, as chat \
            does (ESC as ^[); --raw prints them as they are.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(name: .long, help: "Print the messages' control characters (escape sequences) as they are, even on a terminal.")
    var raw = false

    @Argument(help: ArgumentHelp("The conversation's name.", valueName: "name"), completion: Completions.conversationNames)
    var name: String

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.conversationsShow, params: ["name": .string(name)], options: connection) { result in
                let style = Style.standardOutput
                let filter = TerminalFilter.standardOutput(raw: raw)
                for message in result["messages"]?.arrayValue ?? [] {
                    let role = filter(message["role"]?.stringValue ?? "?")
                    let label = role == "user" ? style.green(role) : role == "assistant" ? style.cyan(role) : style.yellow(role)
                    let content = message["content"]?.stringValue ?? ""
                    Output.write(style.bold(label) + ": " + filter(content) + (content.hasSuffix("\n") ? "" : "\n"))
                    if let call = message["function_call"], !call.isNull {
                        Output.write(ChatPrinter.describe(functionCall: call, style: style, filter: filter))
                    }
                }
            }
        }
    }
}
