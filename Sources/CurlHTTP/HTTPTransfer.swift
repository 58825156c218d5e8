internal import CCurl

/// A running transfer as an async sequence of ``HTTPEvent``s, for a single consumer.
///
/// Cancelling the consuming task, calling ``cancel()``, or dropping the iterator aborts the transfer and
/// closes its connection. Dropping the transfer before an iterator was made aborts it as well.
public final class HTTPTransfer: AsyncSequence, Sendable {
    public typealias Element = HTTPEvent
    public typealias Failure = CurlError

    let state: TransferState

    init(state: TransferState) {
        self.state = state
    }

    deinit {
        if !state.iteratorClaimed {
            state.cancel(.cancelled("The transfer was dropped before it was read"))
        }
    }

    /// The only iterator gets the events; any further iterator throws on its first `next()`.
    public func makeAsyncIterator() -> Iterator {
        Iterator(consumer: state.claimIterator() ? Consumer(state: state) : nil)
    }

    /// Aborts the transfer; a pending or later `next()` throws ``CurlError`` of kind `.cancelled`.
    public func cancel() {
        state.cancel(.cancelled("The transfer was cancelled"))
    }

    /// Reads the whole response into memory, for small bodies such as JSON replies.
    /// Throws a `.other` ``CurlError`` (and aborts) if the body grows beyond `maxBytes`.
    public func collect(upTo maxBytes: Int) async throws(CurlError) -> (head: HTTPResponseHead, body: [UInt8]) {
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        for try await event in self {
            switch event {
            case .head(let value):
                head = value
            case .body(let bytes):
                guard body.count + bytes.count <= maxBytes else {
                    cancel()
                    throw CurlError(
                        code: Int32(CURLE_WRITE_ERROR.rawValue),
                        message: "Response body exceeds \(maxBytes) bytes",
                        kind: .other,
                        bytesReceived: body.count + bytes.count
                    )
                }
                body.append(contentsOf: bytes)
            }
        }
        guard let head else {
            throw CurlError(
                code: Int32(CURLE_WEIRD_SERVER_REPLY.rawValue),
                message: "The transfer ended without a response head",
                kind: .other
            )
        }
        return (head, body)
    }

    /// The most body bytes that were ever buffered but not yet consumed; shows backpressure working.
    package var bufferedBytesHighWater: Int {
        state.bufferedHighWater
    }

    /// How often the write callback paused the transfer because the consumer fell behind.
    package var pauseCount: Int {
        state.pauseCount
    }

    /// Iterates a transfer's events; dropping it aborts the transfer.
    public struct Iterator: AsyncIteratorProtocol, Sendable {
        fileprivate let consumer: Consumer?

        public mutating func next() async throws(CurlError) -> HTTPEvent? {
            guard let consumer else {
                throw .invalidRequest("HTTPTransfer supports a single iterator")
            }
            return try await consumer.state.next().get()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(CurlError) -> HTTPEvent? {
            try await next()
        }
    }

    /// Owned by the iterator; its deinit is how a dropped iterator cancels the transfer.
    fileprivate final class Consumer: Sendable {
        let state: TransferState

        init(state: TransferState) {
            self.state = state
        }

        deinit {
            state.cancel(.cancelled("The transfer's iterator was dropped"))
        }
    }
}
