import Glibc

/// Calendar days in the machine's local time zone (TZ, else /etc/localtime), without Foundation: "today"
/// and "resets at midnight" mean the user's midnight, including on days a DST change makes 23 or 25 hours.
public enum LocalTime {
    /// The local midnight that starts the day containing `milliseconds` (Unix ms).
    public static func startOfDay(containing milliseconds: Int64) -> Int64 {
        midnight(of: milliseconds, addingDays: 0)
    }

    /// The first local midnight after `milliseconds`: when a daily budget resets.
    public static func nextMidnight(after milliseconds: Int64) -> Int64 {
        midnight(of: milliseconds, addingDays: 1)
    }

    /// The local midnight `days` calendar days from the day containing `milliseconds`.
    public static func midnight(of milliseconds: Int64, addingDays days: Int32) -> Int64 {
        var parts = brokenDown(milliseconds)
        parts.tm_mday = parts.tm_mday &+ days
        parts.tm_hour = 0
        parts.tm_min = 0
        parts.tm_sec = 0
        parts.tm_isdst = -1
        let seconds = mktime(&parts)
        // A zone whose clocks skip midnight makes mktime normalise into the next hour: still the day's start.
        guard seconds != -1 else { return milliseconds }
        return Int64(seconds) &* 1000
    }

    /// "2026-11-25": the local calendar date.
    public static func date(_ milliseconds: Int64) -> String {
        let parts = brokenDown(milliseconds)
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
    }

    /// "2026-11-25T00:00:00+03:00": local time with its UTC offset, how messages and the JSON-RPC
    /// results show a moment.
    public static func iso8601(_ milliseconds: Int64) -> String {
        let parts = brokenDown(milliseconds)
        let offset = Int(parts.tm_gmtoff) / 60
        let sign = offset < 0 ? "-" : "+"
        let clock = "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))"
        return "\(date(milliseconds))T\(clock)\(sign)\(pad(abs(offset) / 60, 2)):\(pad(abs(offset) % 60, 2))"
    }

    /// The local midnight starting "YYYY-MM-DD"; nil if `text` is not such a date.
    public static func parseDate(_ text: String) -> Int64? {
        let fields = text.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0].count == 4, fields[1].count == 2, fields[2].count == 2,
            let year = Int32(fields[0]), let month = Int32(fields[1]), let day = Int32(fields[2]),
            (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_isdst = -1
        let seconds = mktime(&parts)
        // mktime normalises 31 February into March: such a date was not a date.
        guard seconds != -1, parts.tm_mon == month - 1 else { return nil }
        return Int64(seconds) &* 1000
    }

    private static func brokenDown(_ milliseconds: Int64) -> tm {
        var seconds = time_t(milliseconds / 1000 - (milliseconds % 1000 < 0 ? 1 : 0))
        var parts = tm()
        localtime_r(&seconds, &parts)
        return parts
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
