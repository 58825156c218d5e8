import GigaChatProtocol

/// Rendering shared by the files subcommands.
enum FileText {
    /// One file's metadata as `key  value` lines, with the creation time readable.
    static func describe(_ file: JSONValue) -> String {
        let pairs = file.flattened().map { key, value in
            key == "created_at" ? (key, file["created_at"]?.intValue.map(TimeText.local) ?? value) : (key, value)
        }
        return Table.keyValue(pairs)
    }
}
