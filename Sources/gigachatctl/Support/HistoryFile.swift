import GigaChatProtocol

/// The REPL's history across sessions: `$XDG_STATE_HOME/gigachat/history`, 0600, one JSON string per
/// line (so that a pasted turn of several lines stays one entry), the newest last.
struct HistoryFile {
    static let fileName = "history"

    let path: String
    let limit: Int

    static func standard(limit: Int) -> HistoryFile? {
        ClientPaths.stateDirectory.map { HistoryFile(path: $0 + "/" + fileName, limit: limit) }
    }

    /// The last `limit` entries. The file is rewritten when it has grown to twice that, so that
    /// appending stays cheap and the file stays small.
    func load() -> [String] {
        guard let bytes = try? PrivateFile.read(path, limit: 64 * 1024 * 1024) else { return [] }
        var entries: [String] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            if let entry = (try? JSONValue(parsing: line))?.stringValue { entries.append(entry) }
        }
        if entries.count > limit {
            entries.removeFirst(entries.count - limit)
            if entries.count * 2 <= bytes.count(where: { $0 == UInt8(ascii: "\n") }) {
                try? PrivateFile.write(entries.flatMap(Self.line), to: path)
            }
        }
        return entries
    }

    /// Adds one entry; a failure to save is not worth interrupting the conversation for.
    func append(_ entry: String) {
        try? PrivateFile.append(Self.line(entry), to: path)
    }

    private static func line(_ entry: String) -> [UInt8] {
        var bytes: [UInt8] = []
        JSONValue.string(entry).write(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}
