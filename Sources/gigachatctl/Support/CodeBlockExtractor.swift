/// `chat -x`: only the first fenced code block of the reply (without its fences), as `llm -x` prints
/// it, streamed line by line; a reply without a code block is printed whole.
final class CodeBlockExtractor {
    private enum State {
        case before
        case inside(fence: String)
        case after
    }

    private var state = State.before
    private var reply = ""
    private var line = ""

    /// Feeds a piece of the reply; returns the code lines it completes.
    func feed(_ text: String) -> String {
        var output = ""
        for character in text {
            reply.append(character)
            line.append(character)
            if character == "\n" || character == "\r\n" {
                output += take(line)
                line = ""
            }
        }
        return output
    }

    /// The rest at the end of the reply: a last code line without its newline, or the whole reply if
    /// it had no code block.
    func finish() -> String {
        defer { line = "" }
        switch state {
        case .before: return reply
        case .inside(let fence): return Self.closes(line, fence) ? "" : line
        case .after: return ""
        }
    }

    private func take(_ line: String) -> String {
        switch state {
        case .before:
            if let fence = Self.opening(line) { state = .inside(fence: fence) }
            return ""
        case .inside(let fence):
            if Self.closes(line, fence) {
                state = .after
                return ""
            }
            return line
        case .after:
            return ""
        }
    }

    /// The fence (``` or ~~~, three or more) that opens a code block on this line.
    private static func opening(_ line: String) -> String? {
        let body = line.drop { $0 == " " }
        guard line.count - body.count <= 3, let mark = body.first, mark == "`" || mark == "~" else { return nil }
        let fence = body.prefix { $0 == mark }
        return fence.count >= 3 ? String(fence) : nil
    }

    private static func closes(_ line: String, _ fence: String) -> Bool {
        let body = line.drop { $0 == " " }
        guard body.hasPrefix(fence) else { return false }
        return body.dropFirst(fence.count).allSatisfy { $0 == fence.first || $0.isWhitespace }
    }
}
