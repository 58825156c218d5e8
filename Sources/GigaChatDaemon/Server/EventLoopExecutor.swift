import NIOCore

/// Runs Swift tasks on a NIO event loop.
///
/// A streamed reply's chunks are handled by the task that owns the request; preferring the connection's
/// event loop for that task means the write to the client happens on the loop directly, instead of the
/// chunk waking a cooperative-pool thread which then wakes the loop: one thread hop per chunk instead of
/// two (measured in bench/REPORT.md).
final class EventLoopExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `eventLoop` is immutable and EventLoop is thread-safe.
    private let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
