import GigaChatProtocol
import NIOCore

/// Writes protocol lines to one client. Many request tasks share it; each write waits while the client's
/// socket is full, which is what pauses the upstream transfer of a slow reader.
struct LineWriter: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let allocator: ByteBufferAllocator

    func send(_ message: RPCMessage) async throws {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        message.write(into: &bytes)
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await outbound.write(buffer)
    }
}
