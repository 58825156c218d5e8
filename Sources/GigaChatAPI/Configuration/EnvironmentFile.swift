/// Parses KEY=VALUE files in the syntax of systemd's EnvironmentFile=, so one file serves both
/// `gigachatd --config` and a unit's EnvironmentFile=.
///
/// Supported: blank lines, `#` and `;` comments, optional `export `, whitespace around the key,
/// single-quoted values (literal) and double-quoted values (with \" \\ \n escapes), and a trailing
/// backslash continuing a line.
public enum EnvironmentFile {
    public static func parse(_ text: String, path: String) throws(ConfigurationError) -> [(key: String, value: String)] {
        var result: [(key: String, value: String)] = []
        var logicalLines: [(number: Int, text: String)] = []
        var pending = ""
        var pendingStart = 0
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            if pending.isEmpty { pendingStart = offset + 1 }
            if line.hasSuffix("\\"), !isComment(line) {
                pending += line.dropLast()
                continue
            }
            logicalLines.append((pendingStart, pending + line))
            pending = ""
        }
        if !pending.isEmpty { logicalLines.append((pendingStart, pending)) }

        for (number, line) in logicalLines {
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || isComment(String(trimmed)) { continue }
            var body = Substring(trimmed)
            if body.hasPrefix("export ") { body = body.dropFirst("export ".count) }
            guard let equals = body.firstIndex(of: "=") else {
                throw ConfigurationError("\(path):\(number): expected KEY=VALUE", kind: .file)
            }
            let key = body[..<equals].trimmingSpaces()
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigurationError("\(path):\(number): invalid key \"\(key)\"", kind: .file)
            }
            let rawValue = body[body.index(after: equals)...].trimmingSpaces()
            result.append((key, try unquote(rawValue, path: path, line: number)))
        }
        return result
    }

    private static func isComment(_ line: String) -> Bool {
        let first = line.first(where: { $0 != " " && $0 != "\t" })
        return first == "#" || first == ";"
    }

    private static func unquote(_ value: String, path: String, line: Int) throws(ConfigurationError) -> String {
        guard let quote = value.first, quote == "\"" || quote == "'" else { return value }
        guard value.count >= 2, value.last == quote else {
            throw ConfigurationError("\(path):\(line): unterminated quoted value", kind: .file)
        }
        let inner = value.dropFirst().dropLast()
        if quote == "'" { return String(inner) }
        var output = ""
        var escaping = false
        for character in inner {
            if escaping {
                switch character {
                case "n": output.append("\n")
                case "t": output.append("\t")
                default: output.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                output.append(character)
            }
        }
        return output
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
