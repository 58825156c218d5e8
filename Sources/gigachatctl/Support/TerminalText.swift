/// Text from the model, the API or a stored conversation made safe to show on a terminal.
///
/// A reply may contain escape sequences (by accident, or because a prompt asked for them) that would
/// recolour, retitle or rewrite the screen, or answer back into the input. On a terminal every C0
/// control character except newline and tab is shown in caret notation (ESC as `^[`, DEL as `^?`) and
/// every C1 control character as `\u{9B}`; scripts reading a pipe, and `--raw`, get the bytes unchanged.
enum TerminalText {
    /// `text` with its control characters made visible, or `text` itself when it has none.
    static func visible(_ text: String) -> String {
        guard hasControlCharacters(text) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x09, 0x0A:
                result.unicodeScalars.append(scalar)
            case 0x00..<0x20:
                result += "^"
                result.unicodeScalars.append(Unicode.Scalar(UInt8(scalar.value) + 0x40))
            case 0x7F:
                result += "^?"
            case 0x80...0x9F:
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// The fast path for streamed deltas: one pass over the UTF-8 bytes, no allocation. C1 characters
    /// are U+0080–U+009F, encoded as C2 80 … C2 9F.
    static func hasControlCharacters(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var index = 0
            let count = bytes.count
            while index < count {
                let byte = bytes[index]
                if byte < 0x20 {
                    if byte != 0x0A, byte != 0x09 { return true }
                } else if byte == 0x7F {
                    return true
                } else if byte == 0xC2, index + 1 < count, bytes[index + 1] & 0xE0 == 0x80 {
                    return true
                }
                index += 1
            }
            return false
        }
    }
}

/// Whether text for one destination is shown as is or made visible.
struct TerminalFilter {
    let escapes: Bool

    /// Standard output: made visible on a terminal unless `raw`.
    static func standardOutput(raw: Bool = false) -> TerminalFilter {
        TerminalFilter(escapes: !raw && Output.stdoutIsTerminal)
    }

    func callAsFunction(_ text: String) -> String {
        escapes ? TerminalText.visible(text) : text
    }
}
