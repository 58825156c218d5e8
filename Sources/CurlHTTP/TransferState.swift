import NIOConcurrencyHelpers

/// The part of a transfer shared between the engine thread (producer) and the consuming task.
///
/// Everything mutable lives in one `NIOLockedValueBox`, so the class is `Sendable` without exemptions.
final class TransferState: Sendable {
    /// Above this many buffered, unconsumed body bytes the write callback pauses the transfer.
    static let highWatermark = 256 * 1024
    /// A paused transfer is resumed once the consumer has drained the buffer to this size.
    static let lowWatermark = 64 * 1024
    /// Upper bound for one `.body` event, so a consumer that fell behind gets bounded chunks.
    static let maxEventBytes = 64 * 1024

    /// Result of offering a block of body bytes from the write callback.
    enum Offer {
        case accepted
        /// Not taken; libcurl keeps the block and delivers it again after unpausing.
        case pause
        /// The consumer is gone; libcurl should abort the transfer.
        case abort
    }

    private enum Phase {
        case running
        /// libcurl finished successfully; remaining buffered bytes are still delivered.
        case finished
        /// libcurl failed; remaining buffered bytes are delivered before the error.
        case failed(CurlError)
        /// Ends the sequence immediately, discarding anything buffered.
        case cancelled(CurlError)
        /// The consumer has seen the end (nil or an error).
        case closed
    }

    private struct Locked {
        var phase: Phase = .running
        var pendingHead: HTTPResponseHead?
        var chunks: [[UInt8]] = []
        var firstChunk = 0
        var buffered = 0
        var delivered = 0
        /// The write callback returned CURL_WRITEFUNC_PAUSE and no unpause has been applied since.
        var paused = false
        var unpauseRequested = false
        var iteratorClaimed = false
        var waiter: Waiter?
        var bufferedHighWater = 0
        var pauseCount = 0
    }

    private typealias Waiter = CheckedContinuation<Result<HTTPEvent?, CurlError>, Never>

    private enum Step {
        case event(Result<HTTPEvent?, CurlError>, requestUnpause: Bool)
        case wait
    }

    let request: HTTPRequest
    private let engine: EngineCore
    private let locked = NIOLockedValueBox(Locked())

    init(request: HTTPRequest, engine: EngineCore) {
        self.request = request
        self.engine = engine
    }

    // MARK: Consumer side

    /// Marks the single iterator as handed out; false if one was handed out before.
    func claimIterator() -> Bool {
        locked.withLockedValue { state in
            if state.iteratorClaimed { return false }
            state.iteratorClaimed = true
            return true
        }
    }

    var iteratorClaimed: Bool {
        locked.withLockedValue { $0.iteratorClaimed }
    }

    var bufferedHighWater: Int {
        locked.withLockedValue { $0.bufferedHighWater }
    }

    var pauseCount: Int {
        locked.withLockedValue { $0.pauseCount }
    }

    func next() async -> Result<HTTPEvent?, CurlError> {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: Waiter) in
                let step: Step = locked.withLockedValue { state in
                    if let step = Self.takeEvent(&state) { return step }
                    if state.waiter != nil {
                        let misuse = CurlError.invalidRequest("next() called concurrently; HTTPTransfer has one consumer")
                        return .event(.failure(misuse), requestUnpause: false)
                    }
                    state.waiter = continuation
                    return .wait
                }
                if case .event(let result, let requestUnpause) = step {
                    if requestUnpause { engine.requestUnpause(self) }
                    continuation.resume(returning: result)
                }
            }
        } onCancel: {
            cancel(.cancelled("The consuming task was cancelled"))
        }
    }

    /// Ends the transfer for the consumer right away and asks the engine to drop it from the multi handle.
    func cancel(_ error: CurlError) {
        let (wakeup, engineOwnsTransfer): (Wakeup?, Bool) = locked.withLockedValue { state in
            let running: Bool
            switch state.phase {
            case .running: running = true
            case .finished, .failed: running = false
            case .cancelled, .closed: return (nil, false)
            }
            state.chunks.removeAll()
            state.firstChunk = 0
            state.buffered = 0
            state.pendingHead = nil
            var failure = error
            failure.bytesReceived = state.delivered
            state.phase = .cancelled(failure)
            return (Self.readyWakeup(&state), running)
        }
        if engineOwnsTransfer { engine.requestCancel(self) }
        resume(wakeup)
    }

    /// Picks what `next()` returns, or nil when it has to wait. Called with the lock held.
    private static func takeEvent(_ state: inout Locked) -> Step? {
        if case .cancelled(let error) = state.phase {
            state.phase = .closed
            return .event(.failure(error), requestUnpause: false)
        }
        if let head = state.pendingHead {
            state.pendingHead = nil
            return .event(.success(.head(head)), requestUnpause: false)
        }
        if state.firstChunk < state.chunks.count {
            let bytes = popBytes(&state)
            state.buffered -= bytes.count
            state.delivered += bytes.count
            var requestUnpause = false
            if state.paused, !state.unpauseRequested, state.buffered <= lowWatermark {
                state.unpauseRequested = true
                requestUnpause = true
            }
            return .event(.success(.body(bytes)), requestUnpause: requestUnpause)
        }
        switch state.phase {
        case .running:
            return nil
        case .finished, .closed:
            state.phase = .closed
            return .event(.success(nil), requestUnpause: false)
        case .failed(let error):
            state.phase = .closed
            var failure = error
            failure.bytesReceived = state.delivered
            return .event(.failure(failure), requestUnpause: false)
        case .cancelled(let error):
            state.phase = .closed
            return .event(.failure(error), requestUnpause: false)
        }
    }

    /// Takes whole chunks up to `maxEventBytes` (at least one), joining them only when there are several.
    private static func popBytes(_ state: inout Locked) -> [UInt8] {
        var bytes = state.chunks[state.firstChunk]
        state.chunks[state.firstChunk] = []
        state.firstChunk += 1
        while state.firstChunk < state.chunks.count,
            bytes.count + state.chunks[state.firstChunk].count <= maxEventBytes
        {
            bytes.append(contentsOf: state.chunks[state.firstChunk])
            state.chunks[state.firstChunk] = []
            state.firstChunk += 1
        }
        if state.firstChunk == state.chunks.count {
            state.chunks.removeAll(keepingCapacity: true)
            state.firstChunk = 0
        } else if state.firstChunk >= 64 {
            state.chunks.removeFirst(state.firstChunk)
            state.firstChunk = 0
        }
        return bytes
    }

    // MARK: Engine side (called on the engine thread only)

    /// Whether the consumer has already given up, so the engine should not start or continue the transfer.
    var isAbandoned: Bool {
        locked.withLockedValue { state in
            switch state.phase {
            case .running, .finished, .failed: return false
            case .cancelled, .closed: return true
            }
        }
    }

    var isPaused: Bool {
        locked.withLockedValue { $0.paused }
    }

    func deliverHead(_ head: HTTPResponseHead) {
        let wakeup = locked.withLockedValue { state -> Wakeup? in
            guard case .running = state.phase else { return nil }
            state.pendingHead = head
            return Self.readyWakeup(&state)
        }
        resume(wakeup)
    }

    func offerBody(_ bytes: UnsafeRawBufferPointer) -> Offer {
        let (offer, wakeup) = locked.withLockedValue { state -> (Offer, Wakeup?) in
            guard case .running = state.phase else { return (.abort, nil) }
            if state.buffered >= Self.highWatermark {
                state.paused = true
                state.pauseCount += 1
                return (.pause, nil)
            }
            state.chunks.append(Array(bytes))
            state.buffered += bytes.count
            state.bufferedHighWater = max(state.bufferedHighWater, state.buffered)
            return (.accepted, Self.readyWakeup(&state))
        }
        resume(wakeup)
        return offer
    }

    /// Called right before `curl_easy_pause(CONT)`, which may call the write callback (and pause again) at once.
    func willUnpause() {
        locked.withLockedValue { state in
            state.paused = false
            state.unpauseRequested = false
        }
    }

    func finish() {
        end(.finished)
    }

    /// Ends with `error` after the consumer has read what is buffered.
    func fail(_ error: CurlError) {
        end(.failed(error))
    }

    /// Ends with `error` at once, discarding buffered data (engine shutdown).
    func abort(_ error: CurlError) {
        end(.cancelled(error))
    }

    private func end(_ phase: Phase) {
        let wakeup = locked.withLockedValue { state -> Wakeup? in
            guard case .running = state.phase else { return nil }
            if case .cancelled(var error) = phase {
                error.bytesReceived = state.delivered
                state.phase = .cancelled(error)
                state.chunks.removeAll()
                state.firstChunk = 0
                state.buffered = 0
                state.pendingHead = nil
            } else {
                state.phase = phase
            }
            return Self.readyWakeup(&state)
        }
        resume(wakeup)
    }

    /// A waiting consumer together with what it gets; resumed after the lock is released.
    private struct Wakeup {
        let waiter: Waiter
        let result: Result<HTTPEvent?, CurlError>
        let requestUnpause: Bool
    }

    private func resume(_ wakeup: Wakeup?) {
        guard let wakeup else { return }
        if wakeup.requestUnpause { engine.requestUnpause(self) }
        wakeup.waiter.resume(returning: wakeup.result)
    }

    /// If a consumer is waiting and an event is now available, takes both out. Called with the lock held.
    private static func readyWakeup(_ state: inout Locked) -> Wakeup? {
        guard let waiter = state.waiter, case .event(let result, let requestUnpause) = takeEvent(&state) else {
            return nil
        }
        state.waiter = nil
        return Wakeup(waiter: waiter, result: result, requestUnpause: requestUnpause)
    }
}
