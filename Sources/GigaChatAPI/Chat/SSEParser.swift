import GigaChatProtocol

/// One server-sent event: its `event:` name (nil for the default) and its data lines joined by "\n".
public struct SSEEvent: Sendable, Equatable {
    public var name: String?
    public var data: [UInt8]

    public init(name: String? = nil, data: [UInt8]) {
        self.name = name
        self.data = data
    }

    /// The v1 stream's terminator, `data: [DONE]`.
    public var isDone: Bool { data.elementsEqual("[DONE]".utf8) }
}

/// Why the event stream could not be read.
public struct SSEParseError: ErrorShape, Equatable {
    public enum Kind: Sendable, Hashable {
        /// A line or an event passed its size limit.
        case tooLarge
        /// An event name is not valid UTF-8.
        case invalidName
    }

    public var kind: Kind
    public var message: String
    public var cause: ErrorCause? { nil }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// An incremental server-sent-events parser (WHATWG framing) fed with whatever bytes the network delivers.
///
/// Bytes are buffered until a line is complete, so a frame or a multi-byte UTF-8 character split across
/// reads is never seen half; lines end in LF, CRLF or CR; a field is split at its first colon and one
/// optional space after it is dropped (slicing a fixed prefix off each line gets each of these wrong).
public struct SSEParser: Sendable {
    public static let defaultMaxLineBytes = 16 * 1024 * 1024
    /// An event's data lines are joined until a blank line; an endless run of them must not grow the
    /// daemon without bound either.
    public static let defaultMaxEventBytes = 16 * 1024 * 1024

    private var buffer: [UInt8] = []
    private var scanned = 0
    private var dataLines: [UInt8] = []
    private var hasData = false
    private var eventName: String?
    private let maxLineBytes: Int
    private let maxEventBytes: Int

    public init(maxLineBytes: Int = SSEParser.defaultMaxLineBytes, maxEventBytes: Int = SSEParser.defaultMaxEventBytes) {
        self.maxLineBytes = maxLineBytes
        self.maxEventBytes = maxEventBytes
    }

    /// Feeds bytes; returns the events they complete.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(SSEParseError) -> [SSEEvent] {
        buffer.append(contentsOf: bytes)
        var events: [SSEEvent] = []
        var lineStart = 0
        var index = scanned
        while index < buffer.count {
            let byte = buffer[index]
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                var next = index + 1
                if byte == UInt8(ascii: "\r") {
                    // A CR at the end of what we have may be the first half of CRLF: wait for more.
                    if next == buffer.count { break }
                    if buffer[next] == UInt8(ascii: "\n") { next += 1 }
                }
                if let event = try processLine(buffer[lineStart..<index]) { events.append(event) }
                lineStart = next
                index = next
            } else {
                index += 1
            }
        }
        buffer.removeFirst(lineStart)
        scanned = index - lineStart
        if buffer.count > maxLineBytes {
            throw SSEParseError(.tooLarge, "an event-stream line is longer than \(maxLineBytes) bytes")
        }
        return events
    }

    /// Ends the stream: a last line without terminator is processed, and a pending event is dispatched.
    public mutating func finish() throws(SSEParseError) -> [SSEEvent] {
        var events: [SSEEvent] = []
        if !buffer.isEmpty {
            var line = buffer[...]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if let event = try processLine(line) { events.append(event) }
            buffer = []
            scanned = 0
        }
        if let event = dispatch() { events.append(event) }
        return events
    }

    private mutating func processLine(_ line: ArraySlice<UInt8>) throws(SSEParseError) -> SSEEvent? {
        if line.isEmpty { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }  // comment
        let field: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = line[line.startIndex..<colon]
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            field = line
            value = []
        }
        if field.elementsEqual("data".utf8) {
            guard dataLines.count + value.count < maxEventBytes else {
                throw SSEParseError(.tooLarge, "an event is larger than \(maxEventBytes) bytes")
            }
            if hasData { dataLines.append(UInt8(ascii: "\n")) }
            dataLines.append(contentsOf: value)
            hasData = true
        } else if field.elementsEqual("event".utf8) {
            guard let name = String(validating: value, as: UTF8.self) else {
                throw SSEParseError(.invalidName, "an event name is not valid UTF-8")
            }
            eventName = name
        }
        // id:, retry: and unknown fields carry nothing the API uses.
        return nil
    }

    private mutating func dispatch() -> SSEEvent? {
        defer {
            dataLines = []
            hasData = false
            eventName = nil
        }
        guard hasData else { return nil }
        return SSEEvent(name: eventName, data: dataLines)
    }
}
