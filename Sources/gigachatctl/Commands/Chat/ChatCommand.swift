import ArgumentParser
import GigaChatProtocol

/// `gigachatctl chat`: ask once, streaming the reply to stdout as it arrives, or talk (`-i`).
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Ask GigaChat and stream the reply, or talk with it (-i).",
        discussion: """
            The prompt is PROMPT, then (after a blank line) standard input when it is not a terminal, \
            then the text of each -f FILE, so that git diff | gigachatctl chat "review this" sends \
            both. With no PROMPT on a terminal, chat talks (as -i does). In a shell loop that reads \
            its own standard input, give chat </dev/null.

            chat speaks GigaChat's v2 contract (gigachatd's chat.create): --web-search, --read-urls, \
            --code and --image let the model use the API's own tools, --reasoning sets how hard a \
            reasoning model thinks, --schema and --regex say what the reply must look like, -a sends \
            files. --api v1 (or GIGACHATCTL_API=v1) uses the older contract (gigachatd's chat), whose \
            --json lines are chat.delta instead of chat.event. Web search sources follow the reply as \
            numbered links; images are saved in --output-dir and their paths printed after the reply. \
            On a terminal, a reasoning model's thinking is shown dimmed on stderr and a tool's \
            progress while it runs (-q hides both). A reply the API's content filter declined is \
            said on stderr.

            -i starts a conversation kept in memory (or in gigachatd with -c NAME; -C continues the \
            last chat). On a terminal the line can be edited (arrows, Home/End, Ctrl-A/E/K/U/W), \
            Up/Down recall earlier lines (kept in $XDG_STATE_HOME/gigachat/history), a pasted block \
            is one turn, and a turn of several lines can be typed between lines of three quotes (\"\"\"). \
            Otherwise each line of standard input is one turn. Lines starting with / are commands: \
            /reset, /model NAME, /system TEXT, /web, /urls, /code and /image [on|off], /reasoning \
            LEVEL, /schema SCHEMA, /regex RE, /attach FILE, /settings, /help, /exit. Ctrl-C cancels a \
            reply, Ctrl-D leaves.

            A role is a file $XDG_CONFIG_HOME/gigachat/roles/NAME holding a system prompt, optionally \
            after a header of model:, temperature: and max_tokens: lines between two --- lines. \
            $GIGACHATCTL_MODEL, $GIGACHATCTL_ROLE and $GIGACHATCTL_API (or the same keys in \
            $XDG_CONFIG_HOME/gigachat/gigachatctl.conf) set defaults.

            With --function the model may answer with function calls instead of text; each is \
            printed as the function's name and its arguments as JSON.

            On a terminal the reply's words are wrapped to its width, its Markdown is shown lightly \
            (headings and bold in bold, code in colour), and control characters are shown instead \
            of obeyed: ESC as ^[, other C0 characters as ^X, DEL as ^?, C1 characters as \\u{9B}. \
            --raw prints the reply exactly as sent; a pipe always gets the reply's exact text.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var options: ChatOptions

    @Flag(name: [.short, .long], help: "Talk: read turns from the terminal (or standard input) until Ctrl-D or /exit.")
    var interactive = false

    @Option(
        name: [.short, .customLong("file")],
        help: ArgumentHelp("Add the text of FILE to the prompt, after a blank line (repeatable).", valueName: "file"),
        completion: .file()
    )
    var files: [String] = []

    @Flag(name: [.customShort("x"), .long], help: "Print only the first fenced code block of the reply (the whole reply if it has none).")
    var extract = false

    @Flag(name: .long, help: "Print the reply exactly as sent, even on a terminal: no wrapping, no Markdown, control characters as they are.")
    var raw = false

    @Argument(help: ArgumentHelp("The prompt (words are joined with spaces).", valueName: "prompt"))
    var prompt: [String] = []

    /// The largest -f file: what fits in one request line to gigachatd by default.
    static let maxFileBytes = ProtocolDefaults.maxLineBytes

    func validate() throws {
        if interactive, connection.json {
            throw ValidationError("--json prints protocol lines for scripts; it cannot be combined with --interactive")
        }
        if extract, interactive { throw ValidationError("--extract prints one reply's code; it cannot be combined with --interactive") }
        if extract, connection.json { throw ValidationError("--extract and --json both say what to print; give one") }
        if extract, options.schema != nil { throw ValidationError("--extract and --schema both say what to print; give one") }
    }

    func run() throws {
        try reportingFailures {
            let settings = try ChatSettings.resolve(options)
            let fileText = try readFiles()
            let talk = interactive || (prompt.isEmpty && files.isEmpty && Output.stdinIsTerminal && !connection.json)
            if talk {
                let first = prompt.isEmpty ? nil : prompt.joined(separator: " ")
                let repl = ChatREPL(
                    settings: settings, connection: connection, raw: raw, usage: options.usage, context: fileText, attachments: options.attach
                )
                try repl.run(firstPrompt: first)
            } else {
                try ask(settings: settings, fileText: fileText)
            }
        }
    }

    /// The -f files' text, each without its final newline, in order.
    private func readFiles() throws -> [String] {
        var texts: [String] = []
        for path in files {
            let bytes: [UInt8]
            do {
                bytes = try LocalFile.read(path, limit: Self.maxFileBytes)
            } catch {
                throw ClientExit.usageError("--file: \(error.message)")
            }
            guard !bytes.contains(0) else { throw ClientExit.usageError("--file: \(path) is not a text file") }
            texts.append(String(String(decoding: bytes, as: UTF8.self).trimmingTrailingNewlines()))
        }
        return texts
    }

    private func ask(settings: ChatSettings, fileText: [String]) throws {
        var parts: [String] = []
        if !prompt.isEmpty { parts.append(prompt.joined(separator: " ")) }
        if !Output.stdinIsTerminal {
            // Like $(...) in a shell: the newline that ends the piped text is not part of the prompt.
            let piped = String(Output.readStandardInput().trimmingTrailingNewlines())
            if !piped.isEmpty { parts.append(piped) }
        }
        parts += fileText
        let text = parts.joined(separator: "\n\n")
        guard !text.trimmingCharacters(in: " \n\t\r").isEmpty else {
            throw ClientExit.usageError("give a prompt as arguments, on standard input or with -f FILE (or use -i to talk)")
        }
        let client = try connection.connect()
        let question = try ChatExchange.question(text, attachments: options.attach, client: client, connection: connection)
        var messages: [JSONValue] = settings.systemMessage.map { [$0] } ?? []
        messages += settings.history
        messages.append(question)

        if let name = settings.conversation, !connection.json { try ConversationCheck.announceIfNew(name, client: client, options: connection) }
        let exchange = ChatExchange(settings: settings, connection: connection, raw: raw, extract: extract, usage: options.usage)
        let reply = try exchange.run(messages, client: client)
        settings.lastChat(turns: settings.history + [question, reply.historyMessage]).save()
    }
}
