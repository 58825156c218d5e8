import NIOCore

/// What the connection reads: a request line, or the news that a line was too long.
enum LineFrame: Sendable {
    case line(ByteBuffer)
    /// The line grew past the cap. The decoder then discards everything, since there is no way to
    /// find the start of the next request reliably; the connection is closed after the error reply.
    /// `limit` is the cap this connection enforces (set when the socket was bound).
    case tooLong(limit: Int)
}

/// Splits the byte stream at "\n", holding at most `maxLineBytes` (plus one socket read) of an
/// unfinished line, so a 64 MiB line costs the daemon nothing like 64 MiB.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = LineFrame

    let maxLineBytes: Int
    private var scanned = 0
    private var overflowed = false

    init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if overflowed {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        let view = buffer.readableBytesView
        let searchStart = view.index(view.startIndex, offsetBy: scanned)
        if let newline = view[searchStart...].firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - view.startIndex
            scanned = 0
            if length > maxLineBytes {
                return overflow(context: context, buffer: &buffer)
            }
            var line = buffer.readSlice(length: length) ?? ByteBuffer()
            buffer.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") {
                line.moveWriterIndex(to: line.writerIndex - 1)
            }
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        }
        scanned = view.count
        if view.count > maxLineBytes {
            return overflow(context: context, buffer: &buffer)
        }
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A last request without its newline is still a request: scripts often omit it.
        while try decode(context: context, buffer: &buffer) == .continue {}
        if !overflowed, buffer.readableBytes > 0, !buffer.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
            let line = buffer.readSlice(length: buffer.readableBytes) ?? ByteBuffer()
            scanned = 0
            context.fireChannelRead(wrapInboundOut(.line(line)))
        }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }

    private mutating func overflow(context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        overflowed = true
        scanned = 0
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        context.fireChannelRead(wrapInboundOut(.tooLong(limit: maxLineBytes)))
        return .needMoreData
    }
}
