import GigaChatProtocol
import Logging
import NIOCore
import ServiceLifecycle

/// WATCHDOG=1 at half the watchdog interval and STATUS= whenever it changes. Each round takes a snapshot,
/// which asks every actor the status line reads, and runs a no-op on the event loop that serves the
/// sockets, so a ping proves those answer, not merely that a timer thread still runs.
///
/// First in the service group, so it is shut down last: systemd keeps getting pings during a drain.
struct WatchdogService: Service {
    let parts: DaemonParts
    let eventLoop: any EventLoop

    func run() async {
        let notifier = parts.notifier
        guard notifier.isEnabled else { return }
        let watchdog = notifier.watchdogInterval
        let period: Duration = min(watchdog.map { $0 / 2 } ?? .seconds(5), .seconds(5))
        if let watchdog {
            parts.logger.debug("watchdog enabled", metadata: ["interval_ms": "\(Durations.milliseconds(watchdog))"])
        }
        await cancelWhenGracefulShutdown {
            var lastStatus = ""
            while !Task.isCancelled {
                let status = await parts.snapshot().statusLine
                let loopAnswers = (try? await eventLoop.submit {}.get()) != nil
                if watchdog != nil, loopAnswers { notifier.watchdog() }
                if status != lastStatus {
                    notifier.status(status)
                    lastStatus = status
                }
                try? await Task.sleep(for: period)
            }
        }
    }
}
