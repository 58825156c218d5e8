import ArgumentParser
import GigaChatProtocol

/// `gigachatctl chat`: ask once, streaming the reply to stdout as it arrives, or talk (`-i`).
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Ask GigaChat and stream the reply, or talk with it (-i).",
        discussion: """
            With no PROMPT and a piped standard input, the prompt is read from standard input.

            -i starts a conversation kept in memory (or in gigachatd with -c NAME). On a terminal \
            the line can be edited (arrows, Home/End, Ctrl-A/E/K/U/W) and Up/Down recall earlier \
            lines; otherwise each line of standard input is one turn. Lines starting with / are \
            commands: /reset, /model NAME, /system TEXT, /help, /exit. Ctrl-C cancels a reply, \
            Ctrl-D leaves.

            With --function the model may answer with a function call instead of text; it is \
            printed as the function's name and its arguments as JSON.

            On a terminal, control characters in the reply are shown instead of obeyed: ESC as ^[, \
            other C0 characters as ^X, DEL as ^?, C1 characters as \\u{9B}, so a reply cannot \
            recolour or rewrite the screen. --raw prints them as they are; a pipe always gets the \
            reply's exact text.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var options: ChatOptions

    @Flag(name: [.short, .long], help: "Talk: read turns from the terminal (or standard input) until Ctrl-D or /exit.")
    var interactive = false

    @Flag(name: .long, help: "Print the reply's control characters (escape sequences) as they are, even on a terminal.")
    var raw = false

    @Argument(help: ArgumentHelp("The prompt (words are joined with spaces).", valueName: "prompt"))
    var prompt: [String] = []

    func validate() throws {
        if interactive, connection.json {
            throw ValidationError("--json prints protocol lines for scripts; it cannot be combined with --interactive")
        }
    }

    func run() throws {
        try reportingFailures {
            let settings = ChatSettings(options, functions: try options.loadFunctions())
            if interactive {
                let first = prompt.isEmpty ? nil : prompt.joined(separator: " ")
                try ChatREPL(settings: settings, connection: connection, filter: .standardOutput(raw: raw)).run(firstPrompt: first)
            } else {
                try ask(settings: settings)
            }
        }
    }

    private func ask(settings: ChatSettings) throws {
        var text = prompt.joined(separator: " ")
        if text.isEmpty, !Output.stdinIsTerminal {
            // Like $(...) in a shell: the newline that ends the piped text is not part of the prompt.
            text = String(Output.readStandardInput().trimmingTrailingNewlines())
        }
        guard !text.trimmingCharacters(in: " \n\t\r").isEmpty else {
            throw ClientExit.usageError("give a prompt as arguments or on standard input (or use -i to talk)")
        }
        var messages: [JSONValue] = []
        if let system = settings.system { messages.append(["role": "system", "content": .string(system)]) }
        messages.append(["role": "user", "content": .string(text)])

        let printer = ChatPrinter(filter: .standardOutput(raw: raw))
        do {
            try CallRunner.run(
                RPCMethod.chat,
                params: settings.params(messages: messages),
                options: connection,
                onNotification: { method, params in
                    if method == RPCMethod.chatDelta { printer.delta(params) }
                },
                willWait: printer.flush,
                render: printer.finish
            )
        } catch {
            printer.abandon()
            throw error
        }
    }
}
