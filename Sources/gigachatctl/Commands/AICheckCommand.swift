import ArgumentParser
import GigaChatProtocol

/// `gigachatctl ai-check TEXT|-`: whether a text was written by a model (the API's GigaCheck).
struct AICheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ai-check",
        abstract: "Tell whether a text was written by a model, and which parts.",
        discussion: """
            The words of TEXT are joined with spaces; - or no TEXT reads standard input. Prints the \
            category (ai, human or mixed), the size and the character ranges the API took for a \
            model's; on a colour terminal the text follows with those parts highlighted.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Detection model (default: GigaCheckDetection).", valueName: "name"),
        completion: Completions.allModels
    )
    var model: String?

    @Argument(help: ArgumentHelp("The text to check, or - for standard input.", valueName: "text"))
    var text: [String] = []

    func run() throws {
        try reportingFailures {
            let input: String
            if text.isEmpty || text == ["-"] {
                guard !Output.stdinIsTerminal || text == ["-"] else {
                    throw ClientExit.usageError("give the text as arguments, or on standard input")
                }
                input = String(Output.readStandardInput().trimmingTrailingNewlines())
            } else {
                input = text.joined(separator: " ")
            }
            guard !input.isEmpty else { throw ClientExit.usageError("the text to check is empty") }
            var params: JSONObject = ["input": .string(input)]
            if let model { params["model"] = .string(model) }
            try CallRunner.run(RPCMethod.aiCheck, params: params, options: connection) { result in
                Output.write(Self.render(result, text: input))
            }
        }
    }

    static func render(_ result: JSONValue, text: String) -> String {
        let intervals = (result["ai_intervals"]?.arrayValue ?? []).compactMap { pair -> (Int, Int)? in
            guard let start = pair[0]?.intValue, let end = pair[1]?.intValue, start >= 0, end >= start else { return nil }
            return (Int(start), Int(end))
        }
        let ranges = intervals.map { "\($0.0)–\($0.1)" }.joined(separator: ", ")
        var output = Table.keyValue([
            ("category", result["category"]?.displayText ?? "-"),
            ("characters", result["characters"]?.displayText ?? "-"),
            ("tokens", result["tokens"]?.displayText ?? "-"),
            ("by a model", ranges.isEmpty ? "-" : ranges),
        ])
        let style = Style.standardOutput
        if style.enabled, !intervals.isEmpty {
            output += "\n" + highlighted(text, intervals: intervals, style: style) + "\n"
        }
        return output
    }

    /// The text with the characters in `intervals` (start inclusive, end exclusive) in yellow.
    static func highlighted(_ text: String, intervals: [(Int, Int)], style: Style) -> String {
        let scalars = Array(text.unicodeScalars)
        var output = ""
        var position = 0
        func plain(_ range: Range<Int>) -> String {
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars[range])
            return TerminalText.visible(String(piece))
        }
        for (start, end) in intervals.sorted(by: { $0.0 < $1.0 }) {
            let from = max(position, min(start, scalars.count))
            let to = max(from, min(end, scalars.count))
            output += plain(position..<from) + style.yellow(plain(from..<to))
            position = to
        }
        return output + plain(position..<scalars.count)
    }
}
