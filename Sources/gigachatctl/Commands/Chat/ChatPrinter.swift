import GigaChatProtocol

/// Prints one reply for a person: streamed text as it arrives, or the whole text at the end, then a
/// function call (if the model made one) readably, and always a final newline.
///
/// On a terminal the model's control characters are made visible (see TerminalText) and the text is
/// laid out by ReplyRenderer (wrapped words, light Markdown); `--raw` and pipes get the exact text.
/// With `-x` only the first fenced code block is printed.
final class ChatPrinter {
    private let style: Style
    private let filter: TerminalFilter
    private let renderer: ReplyRenderer?
    private let extractor: CodeBlockExtractor?
    /// What the model said, unfiltered.
    private(set) var streamed = ""
    /// When the first text arrived, for --usage.
    private(set) var firstTextAt: ContinuousClock.Instant?
    private var lastWritten: Character?
    private let output = OutputBuffer()

    init(raw: Bool = false, extract: Bool = false, style: Style = .standardOutput) {
        self.style = style
        filter = .standardOutput(raw: raw)
        extractor = extract ? CodeBlockExtractor() : nil
        renderer =
            !raw && !extract && Output.stdoutIsTerminal
            ? ReplyRenderer(width: Output.terminalColumns, style: style) : nil
    }

    /// Whether any of the reply is on the screen (a partial one is then called incomplete).
    var textShown: Bool { !streamed.isEmpty }

    /// A `chat.delta` notification's params.
    func delta(_ params: JSONObject) {
        guard let content = params["content"]?.stringValue, !content.isEmpty else { return }
        if firstTextAt == nil { firstTextAt = .now }
        take(content)
    }

    /// Writes what was streamed since the last flush (DaemonClient.willWait calls this).
    func flush() {
        output.flush()
    }

    /// The final result: text that did not stream, the function call, the closing newline.
    func finish(_ result: JSONValue) {
        let message = result["choices"]?[0]?["message"]
        let content = message?["content"]?.stringValue ?? ""
        if streamed.isEmpty, !content.isEmpty { take(content) }
        endLine()
        if let call = message?["function_call"], !call.isNull {
            Output.write(Self.describe(functionCall: call, style: style, filter: filter))
        }
    }

    /// After an error, a timeout or Ctrl-C: the partial text keeps its own line, so the message that
    /// follows starts on a line of its own. A reply that did not stream (--no-stream) but broke off
    /// is shown as far as it got.
    func abandon(_ error: RPCError?) {
        if streamed.isEmpty, error?.data?["partial"]?.boolValue == true,
            let partial = error?.data?["result"]?["choices"]?[0]?["message"]?["content"]?.stringValue
        {
            take(partial)
        }
        endLine()
    }

    private func take(_ text: String) {
        streamed += text
        var shown = text
        if let extractor { shown = extractor.feed(text) }
        write(shown)
    }

    private func write(_ text: String) {
        guard !text.isEmpty else { return }
        var shown = filter(text)
        if let renderer { shown = renderer.feed(shown) }
        guard !shown.isEmpty else { return }
        lastWritten = shown.last
        output.append(shown)
    }

    private func endLine() {
        if let extractor { write(extractor.finish()) }
        if let renderer {
            let rest = renderer.finish()
            if !rest.isEmpty {
                lastWritten = rest.last
                output.append(rest)
            }
        }
        if let lastWritten, lastWritten != "\n" {
            output.append("\n")
            self.lastWritten = "\n"
        }
        flush()
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
