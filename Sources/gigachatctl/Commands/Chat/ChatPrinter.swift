import GigaChatProtocol

/// Prints one reply for a person: streamed text as it arrives, or the whole text at the end, then a
/// function call (if the model made one) readably, and always a final newline. On a terminal the
/// model's control characters are made visible (see TerminalText) unless `--raw`.
final class ChatPrinter {
    private let style: Style
    private let filter: TerminalFilter
    /// What the model said, unfiltered.
    private(set) var streamed = ""
    private let output = OutputBuffer()

    init(style: Style = .standardOutput, filter: TerminalFilter = .standardOutput()) {
        self.style = style
        self.filter = filter
    }

    /// A `chat.delta` notification's params.
    func delta(_ params: JSONObject) {
        guard let content = params["content"]?.stringValue, !content.isEmpty else { return }
        streamed += content
        output.append(filter(content))
    }

    /// Writes what was streamed since the last flush (DaemonClient.willWait calls this).
    func flush() {
        output.flush()
    }

    /// The final result: text that did not stream, the function call, the closing newline.
    func finish(_ result: JSONValue) {
        flush()
        let message = result["choices"]?[0]?["message"]
        let content = message?["content"]?.stringValue ?? ""
        if streamed.isEmpty, !content.isEmpty {
            streamed = content
            Output.write(filter(content))
        }
        endLine()
        if let call = message?["function_call"], !call.isNull {
            Output.write(Self.describe(functionCall: call, style: style, filter: filter))
        }
    }

    /// After an error or Ctrl-C: the partial text keeps its own line.
    func abandon() {
        flush()
        endLine()
    }

    private func endLine() {
        if !streamed.isEmpty, !streamed.hasSuffix("\n") {
            Output.write("\n")
            streamed += "\n"
        }
    }

    /// `function call: NAME` and the arguments as indented JSON.
    static func describe(functionCall call: JSONValue, style: Style, filter: TerminalFilter) -> String {
        let name = call["name"]?.stringValue ?? "?"
        var arguments = call["arguments"] ?? .object([:])
        // Older API versions send the arguments as a JSON string; show them as JSON either way.
        if case .string(let text) = arguments, let parsed = try? JSONValue(parsing: text) { arguments = parsed }
        return style.cyan("function call: ") + style.bold(filter(name)) + "\n"
            + style.cyan("arguments: ") + filter(arguments.prettyText()) + "\n"
    }
}
