/// ANSI colours for text that goes to standard output, or plain text when colour is off.
struct Style {
    let enabled: Bool

    /// Colour when standard output is a terminal and NO_COLOR is not set.
    static var standardOutput: Style { Style(enabled: Output.useColor) }

    /// Colour when standard error is a terminal and NO_COLOR is not set.
    static var standardError: Style { Style(enabled: Output.stderrIsTerminal && Output.colorAllowed) }

    func bold(_ text: String) -> String { wrap(text, "1") }
    func dim(_ text: String) -> String { wrap(text, "2") }
    func red(_ text: String) -> String { wrap(text, "31") }
    func green(_ text: String) -> String { wrap(text, "32") }
    func yellow(_ text: String) -> String { wrap(text, "33") }
    func cyan(_ text: String) -> String { wrap(text, "36") }

    private func wrap(_ text: String, _ code: String) -> String {
        enabled && !text.isEmpty ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}
