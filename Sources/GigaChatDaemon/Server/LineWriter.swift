import GigaChatOpenAI
import GigaChatProtocol
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
