import Glibc

/// What to do after a failed attempt: wait and try again, or give up. Pure, so every rule is unit-tested
/// without a server.
///
/// The rules: a 401 is refreshed and retried once (by the caller, which owns the token); a 429 waits out
/// its Retry-After when that is within `maxRetryAfterSeconds`, and fails at once with the hint otherwise;
/// the statuses in `retryOnStatusCodes` and connection failures back off exponentially; nothing is
/// retried once reply bytes were passed on (the caller never asks then).
public struct RetryPolicy: Sendable, Equatable {
    public var maxRetries: Int
    public var backoffFactorSeconds: Double
    public var retryOnStatusCodes: Set<Int>
    public var maxRetryAfterSeconds: Double
    /// The longest single backoff wait.
    public static let maxBackoffSeconds = 10.0

    public init(maxRetries: Int, backoffFactorSeconds: Double, retryOnStatusCodes: Set<Int>, maxRetryAfterSeconds: Double) {
        self.maxRetries = maxRetries
        self.backoffFactorSeconds = backoffFactorSeconds
        self.retryOnStatusCodes = retryOnStatusCodes
        self.maxRetryAfterSeconds = maxRetryAfterSeconds
    }

    public enum Decision: Sendable, Equatable {
        /// Wait this many seconds, then try again.
        case retry(afterSeconds: Double)
        /// Give up; `retryAfter` is the API's hint (seconds) when it gave a usable one.
        case fail(retryAfter: Double?)
        /// A 429 asked for longer than the daemon waits: give up now and pass the hint on.
        case failRetryAfterTooLong(retryAfter: Double)
    }

    /// After an HTTP error status. `attempt` counts the retries already made (0 after the first try).
    public func decision(status: Int, retryAfterHeader: String?, attempt: Int, nowSeconds: Double, jitter: Double) -> Decision {
        let retryAfter = retryAfterHeader.flatMap { RetryAfter.seconds(parsing: $0, nowSeconds: nowSeconds) }
        guard retryOnStatusCodes.contains(status), attempt < maxRetries else { return .fail(retryAfter: retryAfter) }
        if status == 429, let retryAfter {
            guard retryAfter <= maxRetryAfterSeconds else { return .failRetryAfterTooLong(retryAfter: retryAfter) }
            return .retry(afterSeconds: retryAfter)
        }
        return .retry(afterSeconds: backoff(attempt: attempt, jitter: jitter))
    }

    /// After a connection failure before any reply byte; `retryable` says whether the failure kind is one
    /// that a new connection may fix.
    public func decision(connectionFailureRetryable retryable: Bool, attempt: Int, jitter: Double) -> Decision {
        guard retryable, attempt < maxRetries else { return .fail(retryAfter: nil) }
        return .retry(afterSeconds: backoff(attempt: attempt, jitter: jitter))
    }

    /// The SDK's backoff: factor·2^attempt plus `jitter` (0...1) of one factor, capped.
    public func backoff(attempt: Int, jitter: Double) -> Double {
        let exponent = Double(min(max(attempt, 0), 30))
        let base = backoffFactorSeconds * pow(2, exponent)
        let spread = max(0.05, backoffFactorSeconds) * min(max(jitter, 0), 1)
        return min(base + spread, Self.maxBackoffSeconds)
    }
}

/// The `Retry-After` header (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
public enum RetryAfter {
    /// The longest value taken literally; longer ones saturate here (a year), so no arithmetic on the
    /// value can overflow.
    public static let maxSeconds = 365.0 * 24 * 3600

    /// Seconds to wait, in `0...maxSeconds`; nil when the value is neither form (treated as absent).
    public static func seconds(parsing raw: String, nowSeconds: Double) -> Double? {
        let value = raw.trimmingASCIIWhitespace()
        guard !value.isEmpty else { return nil }
        if value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            var seconds = 0.0
            for digit in value.utf8 {
                seconds = seconds * 10 + Double(digit - UInt8(ascii: "0"))
                if seconds > maxSeconds { return maxSeconds }
            }
            return seconds
        }
        guard let date = HTTPDate.epochSeconds(parsing: value) else { return nil }
        return min(max(date - nowSeconds, 0), maxSeconds)
    }
}

/// HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms recipients must
/// accept. Always GMT.
enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    static func epochSeconds(parsing value: String) -> Double? {
        // Split on the separators of all three forms; the day name is dropped.
        let fields = value.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        guard fields.count >= 4 else { return nil }
        var day: Int?
        var month: Int?
        var year: Int?
        var time: (Int, Int, Int)?
        for field in fields.dropFirst() {
            if let parsed = Self.time(field) {
                time = parsed
            } else if let index = months.firstIndex(of: field.lowercased()) {
                month = index
            } else if field.uppercased() == "GMT" {
                continue
            } else if let number = Int(field), field.count <= 4 {
                if day == nil, field.count <= 2, number >= 1, number <= 31, year == nil || month != nil {
                    day = number
                } else if year == nil {
                    // RFC 850's two-digit year: the RFC says to read one more than 50 years ahead as past.
                    year = field.count == 2 ? (number < 70 ? 2000 + number : 1900 + number) : number
                } else {
                    return nil
                }
            } else {
                return nil
            }
        }
        guard let day, let month, let year, let time, (1970...9999).contains(year) else { return nil }
        // The two forms with a comma (IMF-fixdate, RFC 850) name their zone, which is always GMT.
        if value.contains(","), fields.last?.uppercased() != "GMT" { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(time.0)
        parts.tm_min = Int32(time.1)
        parts.tm_sec = Int32(time.2)
        let seconds = timegm(&parts)
        guard seconds != -1 else { return nil }
        return Double(seconds)
    }

    private static func time(_ field: String) -> (Int, Int, Int)? {
        let parts = field.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ $0.count == 2 }),
            let hour = Int(parts[0]), let minute = Int(parts[1]), let second = Int(parts[2]),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        return (hour, minute, second)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (header values), no Foundation needed.
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
