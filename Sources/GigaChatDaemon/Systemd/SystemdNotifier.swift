internal import CSystemd
import Foundation

/// Tells systemd about the daemon's life cycle through sd_notify(3). Outside systemd (no NOTIFY_SOCKET)
/// every call is a cheap no-op.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Whether a service manager listens (NOTIFY_SOCKET is set).
    public var isEnabled: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    /// Sends newline-separated assignments; true when a manager received them.
    @discardableResult
    public func send(_ state: String) -> Bool {
        csystemd_notify(0, state) > 0
    }

    /// The socket accepts connections; `status` says what is still on its way (the first token).
    public func ready(status: String) { send("READY=1\nSTATUS=\(Self.oneLine(status))") }
    public func status(_ text: String) { send("STATUS=\(Self.oneLine(text))") }
    public func watchdog() { send("WATCHDOG=1") }
    public func stopping(status: String) { send("STOPPING=1\nSTATUS=\(Self.oneLine(status))") }

    /// RELOADING=1 with the MONOTONIC_USEC that systemd 253+ expects; older managers ignore the extra field.
    public func reloading(status: String) {
        var now = timespec()
        var state = "RELOADING=1\nSTATUS=\(Self.oneLine(status))"
        if clock_gettime(CLOCK_MONOTONIC, &now) == 0 {
            let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
            state += "\nMONOTONIC_USEC=\(microseconds)"
        }
        send(state)
    }

    /// Asks the manager for more time to stop, so a drain longer than TimeoutStopSec= is not cut short.
    public func extendTimeout(by duration: Duration) {
        let microseconds = max(duration.components.seconds, 0) * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        send("EXTEND_TIMEOUT_USEC=\(microseconds)")
    }

    /// The watchdog interval systemd expects pings within, if any (WATCHDOG_USEC for this process).
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard csystemd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(clamping: microseconds))
    }

    /// STATUS= is one line in `systemctl status`; a newline would end the assignment early.
    static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }
}
