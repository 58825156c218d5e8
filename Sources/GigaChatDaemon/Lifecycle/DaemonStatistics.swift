import Foundation

/// Counters for `status` and the systemd STATUS= line.
actor DaemonStatistics {
    let startedAt = Date()
    private(set) var connections = 0
    private(set) var served = 0
    private(set) var lastUpstreamError: String?
    /// When the last upstream error happened.
    private(set) var lastUpstreamErrorAt: Date?

    func connectionOpened() { connections += 1 }
    func connectionClosed() { connections -= 1 }

    func requestFinished(upstreamError: String?) {
        served += 1
        if let upstreamError {
            lastUpstreamError = upstreamError
            lastUpstreamErrorAt = Date()
        }
    }

    var uptimeSeconds: Double { Date().timeIntervalSince(startedAt) }
}
