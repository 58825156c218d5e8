import Dispatch
import Glibc

/// SIGTERM, SIGINT and SIGHUP as an async sequence, delivered by dispatch sources instead of a signal
/// handler (where almost nothing is safe to do).
///
/// `@unchecked Sendable`: `sources` never changes after init, and dispatch sources and the stream's
/// continuation are thread-safe.
final class SignalStream: @unchecked Sendable {
    let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    private let sources: [any DispatchSourceSignal]

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .unbounded)
        self.stream = stream
        self.continuation = continuation
        let queue = DispatchQueue(label: "gigachatd.signals")
        sources = [SIGTERM, SIGINT, SIGHUP].map { number in
            // Ignored as signals so that only the dispatch source sees them.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    /// Stops listening; the stream ends after the signals already delivered.
    func finish() {
        for source in sources { source.cancel() }
        continuation.finish()
    }
}
