import Foundation

/// How the daemon writes a moment for people and scripts (`status`, STATUS=, conversations): ISO 8601 in
/// UTC, to the second.
enum Timestamps {
    static func iso8601(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// `milliseconds` since the epoch (token expiry times are kept that way).
    static func iso8601(milliseconds: Int64) -> String {
        iso8601(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
