#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads lines for the REPL: on a terminal, a minimal line editor in raw mode (no readline is linked,
/// to keep start-up fast); otherwise plain lines from standard input, so a script can drive the REPL.
///
/// Keys: Left/Right, Home/End, Ctrl-A/E/B/F, Backspace, Delete, Ctrl-K/U/W, Alt-B/F, Up/Down and
/// Ctrl-P/N (history), Ctrl-L (clear the screen), Ctrl-C (drop the line), Ctrl-D (end of input on an
/// empty line). The terminal is raw only while a line is read, so Ctrl-C during a reply is a signal.
/// A long line wraps onto the next rows, so the scrollback keeps all of it; a paste (bracketed paste
/// mode) is inserted as it is, line breaks included, and becomes one line when Enter is pressed.
final class LineEditor {
    enum Input: Equatable {
        case line(String)
        case endOfInput
        /// Ctrl-C: on a terminal the line was dropped; on a pipe the user wants out.
        case interrupted
    }

    static let maxHistory = 1000

    let isTerminal: Bool
    private(set) var history: [String] = []
    private let historyFile: HistoryFile?
    private var pending: [UInt8] = []
    private var reachedEnd = false

    /// `historyFile` keeps the lines across sessions (on a terminal only: piped lines are a script's).
    init(isTerminal: Bool = Output.stdinIsTerminal, historyFile: HistoryFile? = nil) {
        self.isTerminal = isTerminal
        self.historyFile = isTerminal ? historyFile : nil
        history = self.historyFile?.load() ?? []
    }

    /// One line (several, if pasted). `prompt` may carry colour codes; `promptWidth` is what it takes
    /// on screen. `remember: false` keeps the answer to a question out of the history.
    func readLine(prompt: String, promptWidth: Int, remember: Bool = true) -> Input {
        guard isTerminal else { return readPlainLine() }
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return readPlainLine() }
        var raw = original
        raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
        raw.c_cflag |= tcflag_t(CS8)
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        // TCSANOW, not TCSAFLUSH: what the user typed while the last reply streamed is kept.
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { return readPlainLine() }
        // Bracketed paste: the terminal marks pasted text, so its line breaks do not act as Enter.
        Output.write(Self.pasteOn)
        defer {
            Output.write(Self.pasteOff)
            tcsetattr(STDIN_FILENO, TCSANOW, &original)
        }
        var state = EditState(prompt: prompt, promptWidth: promptWidth, historyIndex: history.count)
        let input = edit(&state)
        if remember, case .line(let line) = input, !line.isEmpty, line != history.last {
            history.append(line)
            if history.count > Self.maxHistory { history.removeFirst(history.count - Self.maxHistory) }
            historyFile?.append(line)
        }
        return input
    }

    // MARK: - Plain input

    private func readPlainLine() -> Input {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return .line(String(decoding: line, as: UTF8.self))
            }
            if reachedEnd {
                guard !pending.isEmpty else { return .endOfInput }
                defer { pending.removeAll() }
                return .line(String(decoding: pending, as: UTF8.self))
            }
            // SIGINT is blocked while a daemon connection is open, so look for it between reads.
            if Interrupts.takePending() { return .interrupted }
            var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 1, 50)
            if ready < 0, errno != EINTR { reachedEnd = true }
            guard ready > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            if count <= 0 { reachedEnd = true } else { pending.append(contentsOf: chunk[0..<count]) }
        }
    }

    // MARK: - Terminal editing

    private static let pasteOn = "\u{1B}[?2004h"
    private static let pasteOff = "\u{1B}[?2004l"
    private static let pasteEnd: [UInt8] = Array("\u{1B}[201~".utf8)

    private struct EditState {
        let prompt: String
        let promptWidth: Int
        var text: [Unicode.Scalar] = []
        var cursor = 0
        var historyIndex: Int
        /// The line being typed before Up was pressed, given back by Down.
        var draft: [Unicode.Scalar] = []
        /// The screen row of the terminal's cursor, counted from the prompt's row.
        var cursorRow = 0
    }

    private enum Key {
        case text([Unicode.Scalar])
        case paste([Unicode.Scalar])
        case enter, backspace, delete, left, right, home, end, up, down
        case wordLeft, wordRight, killToEnd, killToStart, killWord, clearScreen, interrupt, endOfFile, ignored
    }

    private func edit(_ state: inout EditState) -> Input {
        refresh(&state)
        while true {
            guard let key = readKey() else {
                Output.write("\r\n")
                return .endOfInput
            }
            switch key {
            case .text(let scalars), .paste(let scalars):
                state.text.insert(contentsOf: scalars, at: state.cursor)
                state.cursor += scalars.count
            case .enter:
                state.cursor = state.text.count
                refresh(&state)
                Output.write("\r\n")
                var line = ""
                line.unicodeScalars.append(contentsOf: state.text)
                return .line(line)
            case .backspace:
                if state.cursor > 0 {
                    state.text.remove(at: state.cursor - 1)
                    state.cursor -= 1
                }
            case .delete:
                if state.cursor < state.text.count { state.text.remove(at: state.cursor) }
            case .endOfFile:
                if state.text.isEmpty {
                    Output.write("\r\n")
                    return .endOfInput
                }
                if state.cursor < state.text.count { state.text.remove(at: state.cursor) }
            case .interrupt:
                state.cursor = state.text.count
                refresh(&state)
                Output.write("^C\r\n")
                return .interrupted
            case .left: state.cursor = max(0, state.cursor - 1)
            case .right: state.cursor = min(state.text.count, state.cursor + 1)
            case .home: state.cursor = 0
            case .end: state.cursor = state.text.count
            case .wordLeft: state.cursor = wordStart(before: state.cursor, in: state.text)
            case .wordRight:
                var index = state.cursor
                while index < state.text.count, state.text[index] == " " { index += 1 }
                while index < state.text.count, state.text[index] != " " { index += 1 }
                state.cursor = index
            case .killToEnd: state.text.removeSubrange(state.cursor...)
            case .killToStart:
                state.text.removeSubrange(..<state.cursor)
                state.cursor = 0
            case .killWord:
                let start = wordStart(before: state.cursor, in: state.text)
                state.text.removeSubrange(start..<state.cursor)
                state.cursor = start
            case .up:
                guard state.historyIndex > 0 else { break }
                if state.historyIndex == history.count { state.draft = state.text }
                state.historyIndex -= 1
                state.text = Array(history[state.historyIndex].unicodeScalars)
                state.cursor = state.text.count
            case .down:
                guard state.historyIndex < history.count else { break }
                state.historyIndex += 1
                state.text = state.historyIndex == history.count ? state.draft : Array(history[state.historyIndex].unicodeScalars)
                state.cursor = state.text.count
            case .clearScreen:
                Output.write("\u{1B}[H\u{1B}[2J")
                state.cursorRow = 0
            case .ignored:
                break
            }
            refresh(&state)
        }
    }

    private func wordStart(before cursor: Int, in text: [Unicode.Scalar]) -> Int {
        var index = cursor
        while index > 0, text[index - 1] == " " { index -= 1 }
        while index > 0, text[index - 1] != " " { index -= 1 }
        return index
    }

    /// Redraws the line in place: from the prompt's row down, wrapped at the terminal's width (with
    /// explicit line breaks, so the terminal's own wrapping never has to be guessed), rows after a
    /// pasted line break indented like the prompt, then the cursor put where it belongs.
    private func refresh(_ state: inout EditState) {
        let columns = max(state.promptWidth + 2, Output.terminalColumns)
        var output = state.cursorRow > 0 ? "\u{1B}[\(state.cursorRow)A" : ""
        output += "\r\u{1B}[J" + state.prompt
        var row = 0
        var column = state.promptWidth
        var cursor = (row: 0, column: state.promptWidth)
        for (index, scalar) in state.text.enumerated() {
            if scalar == "\n" {
                if index == state.cursor { cursor = (row, column) }
                output += "\r\n" + String(repeating: " ", count: state.promptWidth)
                row += 1
                column = state.promptWidth
                continue
            }
            let width = scalar == "\t" ? 8 - column % 8 : scalar.terminalWidth
            if column + width > columns, column > 0 {
                output += "\r\n"
                row += 1
                column = 0
            }
            if index == state.cursor { cursor = (row, column) }
            if scalar == "\t" {
                output += String(repeating: " ", count: min(width, columns - column))
            } else {
                output.unicodeScalars.append(scalar)
            }
            column += width
        }
        if state.cursor >= state.text.count {
            cursor = (row, column)
            if column >= columns {
                // The last row is full: the cursor goes to the start of a new one.
                output += "\r\n"
                row += 1
                cursor = (row, 0)
            }
        }
        if row > cursor.row { output += "\u{1B}[\(row - cursor.row)A" }
        output += "\r"
        if cursor.column > 0 { output += "\u{1B}[\(cursor.column)C" }
        state.cursorRow = cursor.row
        Output.write(output)
    }

    // MARK: - Keys

    private func readByte(timeoutMilliseconds: Int32 = -1) -> UInt8? {
        if timeoutMilliseconds >= 0 {
            var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 1, timeoutMilliseconds) > 0 else { return nil }
        }
        var byte: UInt8 = 0
        while true {
            let count = read(STDIN_FILENO, &byte, 1)
            if count == 1 { return byte }
            if count < 0, errno == EINTR { continue }
            return nil
        }
    }

    /// The next key, or nil at the end of input (the terminal went away).
    private func readKey() -> Key? {
        guard let byte = readByte() else { return nil }
        switch byte {
        case 0x0D, 0x0A: return .enter
        case 0x7F, 0x08: return .backspace
        case 0x01: return .home
        case 0x02: return .left
        case 0x03: return .interrupt
        case 0x04: return .endOfFile
        case 0x05: return .end
        case 0x06: return .right
        case 0x0B: return .killToEnd
        case 0x0C: return .clearScreen
        case 0x0E: return .down
        case 0x10: return .up
        case 0x15: return .killToStart
        case 0x17: return .killWord
        case 0x1B: return readEscape()
        case 0x00..<0x20: return .ignored
        case 0x20..<0x80:
            return .text([Unicode.Scalar(byte)])
        default:
            return readUTF8(leading: byte)
        }
    }

    private func readUTF8(leading: UInt8) -> Key {
        let length = leading >= 0xF0 ? 4 : leading >= 0xE0 ? 3 : leading >= 0xC0 ? 2 : 1
        var bytes = [leading]
        while bytes.count < length, let next = readByte(timeoutMilliseconds: 100) {
            bytes.append(next)
        }
        let scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
        return .text(scalars.filter { $0 != "\u{FFFD}" })
    }

    /// ESC [ ... and ESC O ... sequences of the arrow and editing keys; Alt-B/F; a lone ESC is ignored.
    private func readEscape() -> Key {
        guard let next = readByte(timeoutMilliseconds: 50) else { return .ignored }
        switch next {
        case UInt8(ascii: "b"): return .wordLeft
        case UInt8(ascii: "f"): return .wordRight
        case UInt8(ascii: "O"):
            guard let final = readByte(timeoutMilliseconds: 50) else { return .ignored }
            return Self.cursorKey(final) ?? .ignored
        case UInt8(ascii: "["):
            var parameters: [UInt8] = []
            while let byte = readByte(timeoutMilliseconds: 50) {
                if (0x40...0x7E).contains(byte) {
                    if byte == UInt8(ascii: "~") {
                        switch String(decoding: parameters, as: UTF8.self) {
                        case "200": return readPaste()
                        case "1", "7": return .home
                        case "3": return .delete
                        case "4", "8": return .end
                        default: return .ignored
                        }
                    }
                    return Self.cursorKey(byte) ?? .ignored
                }
                parameters.append(byte)
            }
            return .ignored
        default:
            return .ignored
        }
    }

    /// The pasted text up to the terminal's end marker: line breaks (CR, as terminals send them, or
    /// LF) kept as LF, tabs kept, other control characters dropped.
    private func readPaste() -> Key {
        var bytes: [UInt8] = []
        while let byte = readByte(timeoutMilliseconds: 1000) {
            bytes.append(byte)
            if bytes.count >= Self.pasteEnd.count, Array(bytes.suffix(Self.pasteEnd.count)) == Self.pasteEnd {
                bytes.removeLast(Self.pasteEnd.count)
                break
            }
        }
        var scalars: [Unicode.Scalar] = []
        var previous: Unicode.Scalar?
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            defer { previous = scalar }
            switch scalar {
            case "\r": scalars.append("\n")
            case "\n": if previous != "\r" { scalars.append("\n") }
            case "\t": scalars.append(scalar)
            default: if scalar.value >= 0x20, scalar.value != 0x7F, scalar != "\u{FFFD}" { scalars.append(scalar) }
            }
        }
        return .paste(scalars)
    }

    private static func cursorKey(_ final: UInt8) -> Key? {
        switch final {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return .right
        case UInt8(ascii: "D"): return .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        default: return nil
        }
    }
}
