import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Prints one reply for a person: streamed text as it arrives, or the whole text at the end, then the
/// function calls (if the model made any) readably, the web search sources, and always a final newline.
///
/// On a terminal the model's control characters are made visible (see TerminalText) and the text is
/// laid out by ReplyRenderer (wrapped words, light Markdown); `--raw` and pipes get the exact text.
/// With `-x` only the first fenced code block is printed. A reasoning model's thinking and a built-in
/// tool's progress go to stderr, only when it is a terminal (see ReasoningView, ToolProgress).
final class ChatPrinter {
    private let style: Style
    private let filter: TerminalFilter
    private let renderer: ReplyRenderer?
    private let extractor: CodeBlockExtractor?
    /// False while the text is held back to be checked first (--schema): it is collected, not shown.
    private let showText: Bool
    /// What the model said, unfiltered.
    private(set) var streamed = ""
    /// When the first text arrived, for --usage.
    private(set) var firstTextAt: ContinuousClock.Instant?
    private var lastWritten: Character?
    private let output = OutputBuffer()
    private let reasoning: ReasoningView
    private let progress: ToolProgress

    init(raw: Bool = false, extract: Bool = false, quiet: Bool = false, showText: Bool = true, style: Style = .standardOutput) {
        self.style = style
        self.showText = showText
        filter = .standardOutput(raw: raw)
        extractor = extract ? CodeBlockExtractor() : nil
        renderer =
            !raw && !extract && Output.stdoutIsTerminal
            ? ReplyRenderer(width: Output.terminalColumns, style: style) : nil
        reasoning = ReasoningView(enabled: !quiet && Output.stderrIsTerminal)
        progress = ToolProgress(enabled: !quiet && Output.stderrIsTerminal && !Output.dumbTerminal)
    }

    /// Any notification of the reply's request: v1's `chat.delta`, v2's `chat.event`.
    func notification(_ method: String, _ params: JSONObject) {
        switch method {
        case RPCMethod.chatDelta: delta(params)
        case RPCMethod.chatEvent: event(params)
        default: break
        }
    }

    /// Whether any of the reply is on the screen (a partial one is then called incomplete).
    var textShown: Bool { showText && !streamed.isEmpty }

    /// A `chat.delta` notification's params (v1).
    func delta(_ params: JSONObject) {
        if let thinking = params["reasoning_content"]?.stringValue, !thinking.isEmpty { think(thinking) }
        guard let content = params["content"]?.stringValue, !content.isEmpty else { return }
        text(content)
    }

    /// A `chat.event` notification's params (v2): answer text, reasoning, or a built-in tool at work.
    func event(_ params: JSONObject) {
        if let name = params["event"]?.stringValue, name.hasPrefix("response.tool.") {
            flush()
            progress.update(event: name, data: params["data"])
        }
        if let thinking = params["reasoning_text"]?.stringValue, !thinking.isEmpty { think(thinking) }
        if let content = params["text"]?.stringValue, !content.isEmpty { text(content) }
    }

    /// Writes what was streamed since the last flush (DaemonClient.willWait calls this).
    func flush() {
        output.flush()
    }

    /// The final result: reasoning and text that did not stream, the function calls, the closing
    /// newline, the sources.
    func finish(_ reply: Reply, sources: Bool = true) {
        progress.clear()
        if !reasoning.shown, streamed.isEmpty, !reply.reasoning.isEmpty { reasoning.show(reply.reasoning) }
        reasoning.end()
        if streamed.isEmpty, !reply.text.isEmpty { take(reply.text) }
        if showText { endLine() }
        for call in reply.functionCalls {
            Output.write(Self.describe(functionCall: call, style: style, filter: filter))
        }
        if showText, sources, extractor == nil, !reply.sources.isEmpty {
            Output.write(Self.describe(sources: reply.sources, style: style, filter: filter))
        }
    }

    /// After an error, a timeout or Ctrl-C: the partial text keeps its own line, so the message that
    /// follows starts on a line of its own. A reply that did not stream (--no-stream) but broke off
    /// is shown as far as it got.
    func abandon(_ error: RPCError?) {
        progress.clear()
        reasoning.end()
        if streamed.isEmpty, error?.data?["partial"]?.boolValue == true {
            let partial = Reply(error?.data?["result"]).text
            if !partial.isEmpty { take(partial) }
        }
        if showText { endLine() }
    }

    private func text(_ content: String) {
        if firstTextAt == nil { firstTextAt = .now }
        progress.clear()
        reasoning.end()
        take(content)
    }

    private func think(_ thinking: String) {
        flush()
        progress.clear()
        reasoning.show(thinking)
    }

    private func take(_ text: String) {
        streamed += text
        guard showText else { return }
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

    /// The web search's sources as numbered links, after a blank line.
    static func describe(sources: [Reply.Source], style: Style, filter: TerminalFilter) -> String {
        var text = "\n"
        for source in sources {
            text += style.dim("[\(filter(source.number))]") + " "
            if let title = source.title, !title.isEmpty { text += filter(title) + " — " }
            text += style.cyan(filter(source.url)) + "\n"
        }
        return text
    }
}

/// A reasoning model's thinking, dimmed on stderr as it arrives; the answer on stdout then starts on a
/// line of its own.
final class ReasoningView {
    private let enabled: Bool
    private let style = Style.standardError
    private(set) var shown = false
    private var atLineStart = true

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func show(_ text: String) {
        guard enabled, !text.isEmpty else { return }
        shown = true
        Output.write(style.dim(TerminalText.visible(text)), to: STDERR_FILENO)
        atLineStart = text.hasSuffix("\n")
    }

    /// Ends the thinking's last line and leaves a blank one before the answer.
    func end() {
        guard shown, !atLineStart else { return }
        Output.write("\n\n", to: STDERR_FILENO)
        atLineStart = true
    }
}

/// "searching the web (3 s left)" on a terminal's stderr while a built-in tool runs
/// (`response.tool.in_progress`), erased when it is done or anything else is printed.
final class ToolProgress {
    private let enabled: Bool
    private var shown = false

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func update(event: String, data: JSONValue?) {
        guard enabled else { return }
        guard event == "response.tool.in_progress", let execution = Self.execution(in: data) else {
            clear()
            return
        }
        let name = execution["name"]?.stringValue ?? "a tool"
        var text = BuiltInTool(rawValue: name)?.progress ?? "running \(name)"
        if let left = execution["seconds_left"]?.intValue { text += " (\(left) s left)" }
        Output.write("\r" + Style.standardError.dim(TerminalText.visible(text) + "…") + "\u{1B}[K", to: STDERR_FILENO)
        shown = true
    }

    func clear() {
        guard shown else { return }
        Output.write("\r\u{1B}[K", to: STDERR_FILENO)
        shown = false
    }

    /// The first `tool_execution` part of the event's messages.
    private static func execution(in data: JSONValue?) -> JSONValue? {
        for message in data?["messages"]?.arrayValue ?? [] {
            for part in message["content"]?.arrayValue ?? [] {
                if let execution = part["tool_execution"], execution.objectValue != nil { return execution }
            }
        }
        return nil
    }
}
