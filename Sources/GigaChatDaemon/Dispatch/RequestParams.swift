import GigaChatProtocol
import NIOConcurrencyHelpers

/// A request's params, handed to the method that takes them: after `take()` nobody else holds the parsed
/// tree, so a method can let it go (a chat keeps its serialized body instead while it waits its turn).
final class RequestParams: Sendable {
    private let storage: NIOLockedValueBox<JSONObject?>

    init(_ object: JSONObject) {
        storage = NIOLockedValueBox(object)
    }

    /// The params; empty when they were taken before.
    func take() -> JSONObject {
        storage.withLockedValue { object in
            defer { object = nil }
            return object ?? [:]
        }
    }
}
