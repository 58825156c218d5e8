/// Splits a byte stream into newline-terminated lines without ever holding more than `maxLineBytes`
/// of an unfinished line.
///
/// Used by the client on its socket; the daemon's NIO decoder applies the same rule to ByteBuffers.
public struct LineBuffer: Sendable {
    public enum Output: Sendable, Equatable {
        /// A complete line without its terminator (a trailing CR is kept; JSON ignores it as whitespace).
        case line([UInt8])
        /// The current line grew past the cap; the stream cannot be resynchronised and should be closed.
        case overflow
    }

    public let maxLineBytes: Int
    @usableFromInline var pending: [UInt8] = []
    @usableFromInline var overflowed = false

    public init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Bytes of an unfinished line currently held.
    public var pendingCount: Int { pending.count }

    /// Feeds bytes; returns the lines they complete. Inlinable so the client's hot loop is specialised
    /// for its concrete byte collection instead of going through generic witness calls.
    @inlinable
    public mutating func append(_ bytes: some Collection<UInt8>) -> [Output] {
        guard !overflowed else { return [] }
        var outputs: [Output] = []
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let piece = bytes[start..<newline]
            if pending.count + piece.count > maxLineBytes {
                overflowed = true
                outputs.append(.overflow)
                return outputs
            }
            pending.append(contentsOf: piece)
            outputs.append(.line(pending))
            pending.removeAll(keepingCapacity: true)
            start = bytes.index(after: newline)
        }
        let rest = bytes[start...]
        if pending.count + rest.count > maxLineBytes {
            overflowed = true
            pending = []
            outputs.append(.overflow)
        } else {
            pending.append(contentsOf: rest)
        }
        return outputs
    }
}
