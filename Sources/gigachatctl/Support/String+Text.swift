#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension String {
    /// Without Foundation's `trimmingCharacters(in:)`.
    func trimmingCharacters(in set: String) -> Substring {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return slice
    }

    /// Without the line ends at the end (LF or CRLF), as a shell's $(...) drops them.
    func trimmingTrailingNewlines() -> Substring {
        var slice = Substring(self)
        while let last = slice.last, last == "\n" || last == "\r\n" || last == "\r" { slice.removeLast() }
        return slice
    }

    /// One line for a table cell: line breaks shown as ⏎, cut to `width` characters with an ellipsis.
    func cell(maxWidth width: Int) -> String {
        var text = ""
        for character in self {
            text.append(character == "\n" || character == "\r\n" ? "⏎" : character == "\t" ? " " : character)
        }
        guard text.count > width else { return text }
        return String(text.prefix(max(0, width - 1))) + "…"
    }
}

enum TimeText {
    /// Unix seconds as local "YYYY-MM-DD HH:MM" (what `ls -l --time-style=long-iso` shows).
    static func local(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return String(seconds) }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min))"
    }
}
