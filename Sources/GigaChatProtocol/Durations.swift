/// Conversions between seconds given as numbers (configuration, Retry-After, JSON) and `Duration`, in one
/// place, each total: a value from outside — huge, negative, infinite or NaN — saturates instead of
/// trapping in an integer conversion.
public enum Durations {
    /// The longest duration any conversion yields: far beyond every timeout, far below Int64 overflow.
    public static let maxSeconds = 100.0 * 365 * 24 * 3600

    /// `seconds` as a Duration, clamped to `0...maxSeconds`; NaN counts as 0.
    public static func from(seconds: Double) -> Duration {
        let clamped = seconds.isNaN ? 0 : min(max(seconds, 0), maxSeconds)
        return .milliseconds(Int64((clamped * 1000).rounded(.up)))
    }

    /// Whole milliseconds in `duration` (rounded down; negative durations give 0).
    public static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? Int64.max : product &+ attoseconds / 1_000_000_000_000_000
    }

    /// "30 s", "1.5 s", "0.25 s": how messages quote a number of seconds.
    public static func text(seconds: Double) -> String {
        guard seconds.isFinite else { return "\(seconds) s" }
        if seconds.rounded() == seconds, abs(seconds) < 1e15 { return "\(Int64(seconds)) s" }
        return "\(seconds) s"
    }
}
