/// Lays a streamed reply out for a terminal: words wrap at the terminal's width instead of being cut
/// mid-word, and with styles on, the reply's Markdown is rendered lightly: headings and **bold** in
/// bold, `code` and fenced code blocks in colour with the fences dimmed. Code blocks are never
/// re-wrapped. Only ever used for a terminal; pipes and --raw get the reply's exact text.
///
/// Text arrives in arbitrary pieces, so a word is held until the whitespace after it shows where it
/// ends, and the start of each line until it is clear whether it opens a heading or a fence.
final class ReplyRenderer {
    private let width: Int
    private let style: Style
    private let markdown: Bool

    private var column = 0
    private var pendingSpace = ""
    private var word = ""
    /// The start of a line, held until it is clear what kind of line it is.
    private var lineHead: String? = ""
    /// A fence line being collected to its end.
    private var fenceLine: String?
    private var inCodeBlock = false
    private var heading = false
    private var bold = false
    private var inlineCode = false
    private var output = ""
    /// Code block text not yet written: styled as one run, not character by character.
    private var codeRun = ""

    /// True when nothing is pending and the last character written ended a line (or nothing was).
    var atLineStart: Bool { column == 0 && word.isEmpty && codeRun.isEmpty && (lineHead?.isEmpty ?? true) && fenceLine == nil }

    init(width: Int, style: Style) {
        self.width = max(20, width)
        self.style = style
        markdown = style.enabled
    }

    /// Feeds a piece of the reply; returns what can be shown now.
    func feed(_ text: String) -> String {
        for character in text { take(character) }
        return takeOutput()
    }

    /// The rest, at the end of the reply.
    func finish() -> String {
        if let fence = fenceLine {
            fenceLine = nil
            emitFence(fence)
        }
        if let head = lineHead, !head.isEmpty {
            lineHead = nil
            for character in head { plain(character) }
        }
        emitWord()
        return takeOutput()
    }

    private func takeOutput() -> String {
        flushCode()
        defer { output = "" }
        return output
    }

    // MARK: - Lines

    private func take(_ character: Character) {
        if fenceLine != nil {
            if character == "\n" || character == "\r\n" {
                emitFence(fenceLine ?? "")
                fenceLine = nil
                newLine()
            } else {
                fenceLine?.append(character)
            }
            return
        }
        if var head = lineHead {
            head.append(character)
            switch classify(head) {
            case .undecided:
                lineHead = head
            case .fence:
                lineHead = nil
                fenceLine = String(head)
            case .heading(let rest):
                lineHead = nil
                heading = markdown
                if !markdown { for character in head.dropLast(rest.count) { plain(character) } }
                for character in rest { plain(character) }
            case .text:
                lineHead = nil
                for character in head { plain(character) }
            }
            return
        }
        plain(character)
    }

    private enum LineKind {
        case undecided, fence, text
        /// A heading; `rest` is the text after its "#… " marker.
        case heading(rest: Substring)
    }

    private func classify(_ head: String) -> LineKind {
        let indent = head.prefix { $0 == " " }
        guard indent.count <= 3 else { return .text }
        let body = head.dropFirst(indent.count)
        if body.isEmpty { return .undecided }
        for fence in ["```", "~~~"] {
            if body.hasPrefix(fence) { return .fence }
            if fence.hasPrefix(body) { return .undecided }
        }
        if inCodeBlock { return .text }
        let hashes = body.prefix { $0 == "#" }
        guard !hashes.isEmpty, hashes.count <= 6 else { return .text }
        let after = body.dropFirst(hashes.count)
        guard let first = after.first else { return .undecided }
        return first == " " ? .heading(rest: after.dropFirst()) : .text
    }

    private func emitFence(_ line: String) {
        flushCode()
        emitWord()
        pendingSpace = ""
        inCodeBlock.toggle()
        output += style.dim(line)
        column += line.terminalWidth
    }

    private func newLine() {
        output += "\n"
        column = 0
        pendingSpace = ""
        heading = false
        lineHead = ""
    }

    // MARK: - Text

    private func flushCode() {
        guard !codeRun.isEmpty else { return }
        output += style.cyan(codeRun)
        column += codeRun.terminalWidth
        codeRun = ""
    }

    private func plain(_ character: Character) {
        if character == "\n" || character == "\r\n" {
            flushCode()
            emitWord()
            newLine()
            return
        }
        if inCodeBlock {
            // Code keeps its own line breaks and spacing.
            codeRun.append(character)
            return
        }
        if character == " " || character == "\t" {
            emitWord()
            pendingSpace.append(character)
            return
        }
        word.append(character)
    }

    private func emitWord() {
        guard !word.isEmpty else { return }
        let pieces = styledPieces(word)
        let wordWidth = pieces.reduce(0) { $0 + $1.text.terminalWidth }
        let spaceWidth = width(ofSpace: pendingSpace, from: column)
        if column > 0, column + spaceWidth + wordWidth > width {
            output += "\n"
            column = 0
        } else {
            output += pendingSpace
            column += spaceWidth
        }
        for piece in pieces {
            var text = piece.text
            if piece.code { text = style.cyan(text) }
            if piece.bold { text = style.bold(text) }
            output += text
        }
        column += wordWidth
        if column >= width { column %= width }
        pendingSpace = ""
        word = ""
    }

    private func width(ofSpace space: String, from start: Int) -> Int {
        var column = start
        for character in space {
            column += character == "\t" ? 8 - column % 8 : 1
        }
        return column - start
    }

    /// The word cut where `**` and `` ` `` switch bold and code on or off (markers dropped).
    private func styledPieces(_ word: String) -> [(text: String, bold: Bool, code: Bool)] {
        guard markdown else { return [(word, false, false)] }
        var pieces: [(text: String, bold: Bool, code: Bool)] = []
        var current = ""
        var characters = Array(word)[...]
        func close() {
            if !current.isEmpty { pieces.append((current, bold || heading, inlineCode)) }
            current = ""
        }
        while let character = characters.first {
            if character == "`" {
                close()
                inlineCode.toggle()
                characters = characters.dropFirst()
            } else if character == "*", !inlineCode, characters.dropFirst().first == "*" {
                close()
                bold.toggle()
                characters = characters.dropFirst(2)
            } else {
                current.append(character)
                characters = characters.dropFirst()
            }
        }
        close()
        return pieces
    }
}
