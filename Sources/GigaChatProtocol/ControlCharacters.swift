/// Text from outside (method names, API messages, model output) can carry control characters that forge
/// log lines or drive a terminal. These are the two ways the daemon makes such text safe, in one place.
public enum ControlCharacters {
    /// C0 controls, DEL and C1 controls.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// Whether `text` has any control character at all (the common case is no, and then nothing is copied).
    public static func contains(in text: String) -> Bool {
        text.utf8.contains { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 } && text.unicodeScalars.contains(where: isControl)
    }

    /// One clean line: line breaks and tabs become single spaces, other control characters are dropped.
    public static func oneLine(_ text: String) -> String {
        guard contains(in: text) else { return text }
        var output = String.UnicodeScalarView()
        var lastWasSpace = false
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\r" || scalar == "\t" {
                if !lastWasSpace { output.append(" ") }
                lastWasSpace = true
            } else if !isControl(scalar) {
                output.append(scalar)
                lastWasSpace = scalar == " "
            }
        }
        return String(output)
    }

    /// Every control character made visible as an escape (`\n`, `\r`, `\t`, `\u{1B}`), so a value can
    /// never start a new log line or reach a terminal as a command.
    public static func escaped(_ text: String) -> String {
        guard contains(in: text) else { return text }
        var output = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where isControl(scalar): output += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }
}
