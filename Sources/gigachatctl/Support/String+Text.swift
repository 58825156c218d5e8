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

/// Times for people: local "YYYY-MM-DD HH:MM" in tables, whatever form the daemon or the API used
/// (Unix seconds from the API, ISO 8601 from gigachatd); --json keeps the original.
enum TimeText {
    /// Unix seconds as local "YYYY-MM-DD HH:MM" (what `ls -l --time-style=long-iso` shows).
    static func local(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return String(seconds) }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min))"
    }

    /// Unix milliseconds as local "YYYY-MM-DD HH:MM:SS" (the log's times, a second apart).
    static func localWithSeconds(milliseconds: Int64) -> String {
        var time = time_t(milliseconds / 1000)
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return String(milliseconds) }
        let second = parts.tm_sec < 10 ? "0\(parts.tm_sec)" : String(parts.tm_sec)
        return local(Int64(milliseconds / 1000)) + ":" + second
    }

    /// An ISO 8601 time ("2026-11-25T16:01:50Z", fractions and "+03:00" offsets allowed) as local
    /// "YYYY-MM-DD HH:MM"; nil if `text` is not one.
    static func local(iso text: String) -> String? {
        seconds(iso: text).map(local)
    }

    /// Unix seconds of an ISO 8601 time.
    static func seconds(iso text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int32(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var index = 19
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
        }
        var offset: Int64 = 0
        let zone = bytes[index...]
        if zone.elementsEqual("Z".utf8) {
            offset = 0
        } else if zone.count == 6, zone.first == UInt8(ascii: "+") || zone.first == UInt8(ascii: "-"),
            bytes[index + 3] == UInt8(ascii: ":"), let hours = number(index + 1..<index + 3),
            let minutes = number(index + 4..<index + 6)
        {
            offset = Int64(hours * 3600 + minutes * 60) * (zone.first == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let utc = timegm(&parts)
        guard utc != -1 || (year == 1969 && month == 12 && day == 31) else { return nil }
        return Int64(utc) - offset
    }
}
