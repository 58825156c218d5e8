import NIOConcurrencyHelpers
import NIOCore

/// Since when a client has read nothing while writes to it wait; every finished write counts as progress.
///
/// Both of the daemon's servers (JSON-RPC lines and HTTP) end the requests of a client that stops reading
/// (GIGACHATD_CLIENT_STALL_TIMEOUT) by watching this: two uncontended locks per write, no timer per write.
public final class WriteProgress: Sendable {
    private struct State {
        var waiting = 0
        var since: NIODeadline?
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public func begin() {
        state.withLockedValue { state in
            if state.waiting == 0 { state.since = .now() }
            state.waiting += 1
        }
    }

    public func end() {
        state.withLockedValue { state in
            state.waiting -= 1
            state.since = state.waiting == 0 ? nil : .now()
        }
    }

    /// Whether some write has waited, with no other write finishing, for longer than `limit`.
    public func stalled(longerThan limit: TimeAmount) -> Bool {
        state.withLockedValue { state in
            guard let since = state.since else { return false }
            return NIODeadline.now() - since > limit
        }
    }
}
