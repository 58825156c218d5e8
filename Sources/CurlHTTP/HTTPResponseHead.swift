/// Status and headers of the final (non-1xx) response.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    /// In the order received, names spelled as the server sent them.
    public var headers: [(name: String, value: String)]

    public init(status: Int, headers: [(name: String, value: String)]) {
        self.status = status
        self.headers = headers
    }

    /// The value of the first header called `name`, compared case-insensitively (HTTP names are ASCII).
    public func header(_ name: String) -> String? {
        headers.first { Self.asciiCaseInsensitiveEqual($0.name, name) }?.value
    }

    private static func asciiCaseInsensitiveEqual(_ lhs: String, _ rhs: String) -> Bool {
        let left = lhs.utf8
        let right = rhs.utf8
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { lower($0) == lower($1) }
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }
}
