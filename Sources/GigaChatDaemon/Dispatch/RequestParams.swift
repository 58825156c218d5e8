import GigaChatProtocol
import NIOConcurrencyHelpers

/// A request's params, handed to the method that takes them: after `take()` nobody else holds the parsed
/// tree, so a method can let it go (a chat keeps its serialized body instead while it waits its turn).
///
/// The connection reads its next line only once the method says it is done with the tree
/// (`markConsumed()`): a client that pipelines many large requests then costs one parsed tree at a
/// time, not one per request still waiting to be looked at.
final class RequestParams: Sendable {
    private struct State {
        var object: JSONObject?
        var consumed = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state: NIOLockedValueBox<State>

    init(_ object: JSONObject) {
        state = NIOLockedValueBox(State(object: object))
    }

    /// The params; empty when they were taken before.
    func take() -> JSONObject {
        state.withLockedValue { state in
            defer { state.object = nil }
            return state.object ?? [:]
        }
    }

    /// The method no longer holds the parsed params (idempotent).
    func markConsumed() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLockedValue { state in
            state.consumed = true
            state.object = nil
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Returns once `markConsumed()` was called.
    func waitUntilConsumed() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { state -> Bool in
                if state.consumed { return true }
                state.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}
