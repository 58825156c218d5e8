import ArgumentParser
import GigaChatProtocol

/// `gigachatctl chat`: ask once, streaming the reply to stdout as it arrives.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Ask GigaChat and stream the reply.",
        discussion: """
            With no PROMPT and a piped standard input, the prompt is read from standard input.

            \(ClientExit.helpText)
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: [.short, .long], help: ArgumentHelp("Model (default: the daemon's GIGACHAT_MODEL).", valueName: "name"))
    var model: String?

    @Option(name: [.short, .long], help: ArgumentHelp("System prompt.", valueName: "text"))
    var system: String?

    @Option(name: .long, help: ArgumentHelp("Sampling temperature.", valueName: "t"))
    var temperature: Double?

    @Option(name: .long, help: ArgumentHelp("Limit the reply's length in tokens.", valueName: "n"))
    var maxTokens: Int?

    @Option(name: .long, help: ArgumentHelp("X-Session-ID for the API's prompt cache.", valueName: "id"))
    var session: String?

    @Flag(name: .long, help: "Wait for the whole reply instead of streaming it.")
    var noStream = false

    @Argument(help: ArgumentHelp("The prompt (words are joined with spaces).", valueName: "prompt"))
    var prompt: [String] = []

    func validate() throws {
        if let temperature, !(temperature >= 0) { throw ValidationError("--temperature must be >= 0") }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
    }

    func run() throws {
        var text = prompt.joined(separator: " ")
        if text.isEmpty, !Output.stdinIsTerminal { text = Output.readStandardInput() }
        guard !text.trimmingCharacters(in: " \n\t\r").isEmpty else {
            throw ValidationError("give a prompt as arguments or on standard input")
        }
        var messages: [JSONValue] = []
        if let system { messages.append(["role": "system", "content": .string(system)]) }
        messages.append(["role": "user", "content": .string(text)])
        var params: JSONObject = ["messages": .array(messages), "stream": .bool(!noStream)]
        if let model { params["model"] = .string(model) }
        if let temperature { params["temperature"] = .double(temperature) }
        if let maxTokens { params["max_tokens"] = .int(Int64(maxTokens)) }
        if let session { params["session_id"] = .string(session) }

        var streamed = ""
        do {
            try CallRunner.run(
                RPCMethod.chat,
                params: params,
                options: connection,
                onNotification: { method, params in
                    guard method == RPCMethod.chatDelta, let content = params["content"]?.stringValue else { return }
                    streamed += content
                    Output.write(content)
                },
                render: { result in
                    if noStream {
                        let content = result["choices"]?[0]?["message"]?["content"]?.stringValue ?? ""
                        Output.write(content.hasSuffix("\n") ? content : content + "\n")
                    } else if !streamed.hasSuffix("\n") {
                        Output.write("\n")
                    }
                }
            )
        } catch {
            if !streamed.isEmpty, !streamed.hasSuffix("\n") { Output.write("\n") }
            throw Self.exitCode(for: error)
        }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> Substring {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return slice
    }
}
