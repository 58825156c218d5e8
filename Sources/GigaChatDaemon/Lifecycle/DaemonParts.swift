import Logging

/// The long-lived parts of a running daemon that its services share.
struct DaemonParts: Sendable {
    let upstream: UpstreamService
    let settings: CurrentSettings
    let statistics: DaemonStatistics
    let lifecycle: Lifecycle
    let usage: UsageAccounting
    let http: HTTPFrontEnd
    let notifier: SystemdNotifier
    let logger: Logger

    /// The state for STATUS= (without the ledger's figures, which only `status` shows).
    func snapshot() async -> DaemonSnapshot {
        await DaemonSnapshot.take(upstream: upstream, statistics: statistics, lifecycle: lifecycle, usage: nil)
    }
}
