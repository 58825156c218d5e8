import Glibc
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import UnixSignals

/// SIGHUP reloads; the first SIGTERM or SIGINT starts the group's graceful shutdown (the drain), a second
/// one cuts the drain short. Signals are handled one at a time, so two quick SIGHUPs never reload
/// concurrently, and a reload is never started once a shutdown has begun.
///
/// Shut down after the listeners, so a stop signal during the drain is still heard.
struct SignalService: Service {
    static let handled: [UnixSignal] = [.sigterm, .sigint, .sighup]

    let parts: DaemonParts
    let signals: UnixSignalsSequence
    let reloader: Reloader
    let shutdown: ShutdownTrigger

    /// Traps the signals the daemon handles, from the first moment: a stop signal during start-up is
    /// kept and handled once the group runs, instead of killing the process half set up.
    static func trap() async -> UnixSignalsSequence {
        for signal in handled {
            // The dispatch source behind the sequence sees the signal; ignoring it as a signal keeps its
            // default action (ending the process) from happening on any other thread.
            Glibc.signal(signal.rawValue, SIG_IGN)
        }
        return await UnixSignalsSequence(trapping: handled)
    }

    func run() async {
        var stopping = false
        for await signal in signals.cancelOnGracefulShutdown() {
            if signal == .sighup {
                if stopping {
                    parts.logger.notice("ignoring SIGHUP: shutting down")
                } else {
                    await reloader.reload()
                }
            } else if !stopping {
                stopping = true
                await parts.lifecycle.stopRequested(by: signal.description)
                await shutdown.trigger()
            } else {
                parts.logger.notice("second stop signal: ending the remaining requests now")
                await parts.lifecycle.hurryDrain()
            }
        }
    }
}

/// Starts the service group's graceful shutdown from inside one of its services (the group is made after
/// its services, so they reach it through this).
final class ShutdownTrigger: Sendable {
    private let group = NIOLockedValueBox<ServiceGroup?>(nil)

    func attach(_ serviceGroup: ServiceGroup) {
        group.withLockedValue { $0 = serviceGroup }
    }

    func trigger() async {
        await group.withLockedValue { $0 }?.triggerGracefulShutdown()
    }
}
