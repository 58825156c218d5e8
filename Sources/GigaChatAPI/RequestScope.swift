import GigaChatProtocol
import Logging

/// Everything the upstream layer needs to know about the request a task works for — whose it is, how
/// urgent, whom to tell that it waits, where to count its metrics, what to log with — bound once per
/// request as one task-local.
///
/// One reference-sized value, bound from a `let` of exactly its type: an optimized build of nested
/// `withValue` calls whose values needed converting (to an optional) freed task-local storage out of order
/// and crashed the daemon on its first request.
public final class RequestScope: Sendable {
    /// The scope of the request the current task works for; nil outside one.
    @TaskLocal public static var current: RequestScope?

    /// Who the request belongs to, for fair sharing of upstream slots (one owner per client connection).
    public let owner: UInt64
    public let priority: Priority
    /// Told how many requests are ahead when the request has to wait for a slot.
    public let onQueued: (@Sendable (Int) async -> Void)?
    public let metrics: RequestMetrics
    /// The request's logger, so every line about it — a 401 and its refresh, a retry — carries its id.
    public let logger: Logger?

    public init(
        owner: UInt64 = 0,
        priority: Priority = .normal,
        onQueued: (@Sendable (Int) async -> Void)? = nil,
        metrics: RequestMetrics = RequestMetrics(),
        logger: Logger? = nil
    ) {
        self.owner = owner
        self.priority = priority
        self.onQueued = onQueued
        self.metrics = metrics
        self.logger = logger
    }

    /// Runs `operation` with `scope` as the current request scope.
    public static func run<T>(_ scope: RequestScope, _ operation: () async throws -> T) async rethrows -> T {
        let bound: RequestScope? = scope
        return try await $current.withValue(bound) { try await operation() }
    }
}
