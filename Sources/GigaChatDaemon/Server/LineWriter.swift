import GigaChatProtocol
import NIOConcurrencyHelpers
import NIOCore

/// Writes protocol lines to one client. Many request tasks share it; each write waits while the client's
/// socket is full, which is what pauses the upstream transfer of a slow reader.
struct LineWriter: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let allocator: ByteBufferAllocator
    /// The connection's event loop, where writes land without a thread hop.
    let eventLoop: any EventLoop
    /// How long writes have been waiting for the client to read, for the stall check.
    let progress = WriteProgress()

    func send(_ message: RPCMessage) async throws {
        try await send([message])
    }

    /// Writes several lines at once, in order, with one flush.
    func send(_ messages: [RPCMessage]) async throws {
        guard !messages.isEmpty else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128 * messages.count)
        for message in messages { message.write(into: &bytes) }
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        progress.begin()
        defer { progress.end() }
        try await outbound.write(buffer)
    }
}

/// Since when the client has read nothing while writes wait: every finished write counts as progress.
final class WriteProgress: Sendable {
    private struct State {
        var waiting = 0
        var since: NIODeadline?
    }

    private let state = NIOLockedValueBox(State())

    func begin() {
        state.withLockedValue { state in
            if state.waiting == 0 { state.since = .now() }
            state.waiting += 1
        }
    }

    func end() {
        state.withLockedValue { state in
            state.waiting -= 1
            state.since = state.waiting == 0 ? nil : .now()
        }
    }

    /// Whether some write has waited, with no other write finishing, for longer than `limit`.
    func stalled(longerThan limit: TimeAmount) -> Bool {
        state.withLockedValue { state in
            guard let since = state.since else { return false }
            return NIODeadline.now() - since > limit
        }
    }
}
