internal import CSystemd
import Foundation
import Logging

/// A swift-log handler that writes native journal entries through sd_journal_sendv(3): PRIORITY,
/// SYSLOG_IDENTIFIER, MESSAGE, the code location, and every metadata key as a field of its own
/// (`request_id` becomes REQUEST_ID), so `journalctl REQUEST_ID=7` or `-o json` finds them.
///
/// Used when stderr is connected to the journal (see `JournalStream`). MESSAGE also carries the metadata
/// as `key=value` pairs, because plain `journalctl -u gigachatd` shows only MESSAGE.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let identifier: String

    /// - Parameter identifier: SYSLOG_IDENTIFIER, what `journalctl -t` and the short output show.
    public init(
        label: String,
        identifier: String = "gigachatd",
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.identifier = identifier
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let given = event.metadata { merged.merge(given) { _, new in new } }
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        let fields = Self.fields(
            level: event.level,
            message: event.message.description,
            metadata: merged,
            identifier: identifier,
            file: event.file,
            function: event.function,
            line: event.line
        )
        if Self.send(fields) < 0 {
            // journald is gone (restarting, or stderr is a stale stream): the line must not be lost.
            let line = "<\(Self.priority(event.level))>\(fields.first { $0.name == "MESSAGE" }?.value ?? "")\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    // MARK: Entry building (internal for tests)

    /// syslog(3) priorities, which journald and `journalctl -p` use.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// The journal fields of one entry, in the order they are sent.
    static func fields(
        level: Logger.Level,
        message: String,
        metadata: Logger.Metadata,
        identifier: String,
        file: String,
        function: String,
        line: UInt
    ) -> [(name: String, value: String)] {
        let sortedMetadata = metadata.sorted { $0.key < $1.key }
        var text = message
        if !sortedMetadata.isEmpty {
            text += " [" + sortedMetadata.map { "\($0.key)=\(quoted(render($0.value)))" }.joined(separator: " ") + "]"
        }
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", text),
            ("PRIORITY", String(priority(level))),
            ("SYSLOG_IDENTIFIER", identifier),
            ("GIGACHATD_LEVEL", level.rawValue),
            ("CODE_FILE", file),
            ("CODE_LINE", String(line)),
            ("CODE_FUNC", function),
        ]
        var used = Set(fields.map(\.name))
        for (key, value) in sortedMetadata {
            var name = fieldName(key)
            // A metadata key must not pose as one of the entry's own fields (MESSAGE, PRIORITY, ...).
            if used.contains(name) || reservedFields.contains(name) { name = String("META_\(name)".prefix(64)) }
            guard !used.contains(name) else { continue }
            used.insert(name)
            fields.append((name, render(value)))
        }
        return fields
    }

    /// Fields journald or the journal's readers give a meaning of their own.
    private static let reservedFields: Set<String> = [
        "MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID",
        "SYSLOG_TIMESTAMP", "SYSLOG_RAW", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "ERRNO", "TID",
        "INVOCATION_ID", "USER_INVOCATION_ID", "UNIT", "USER_UNIT", "DOCUMENTATION", "COREDUMP_UNIT",
        "OBJECT_PID",
    ]

    /// A journal field name for a metadata key: upper-case letters, digits and `_`, starting with a
    /// letter (a leading `_` would claim to be a trusted field, which journald drops), at most 64 bytes.
    static func fieldName(_ key: String) -> String {
        var name = ""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "a"..."z": name.unicodeScalars.append(Unicode.Scalar(scalar.value - 32) ?? "_")
            case "A"..."Z", "0"..."9": name.unicodeScalars.append(scalar)
            default: name.append("_")
            }
        }
        if name.first.map({ !$0.isLetter }) ?? true { name = "M_" + name }
        return String(name.prefix(64))
    }

    private static func render(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let convertible): return convertible.description
        case .array, .dictionary: return value.description
        }
    }

    private static func quoted(_ text: String) -> String {
        guard text.isEmpty || text.contains(where: { $0 == " " || $0 == "\"" || $0 == "\n" || $0 == "]" }) else { return text }
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
    }

    /// One sd_journal_sendv call; the native protocol carries values with newlines intact.
    private static func send(_ fields: [(name: String, value: String)]) -> Int32 {
        var storage: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = storage.count
            storage.append(contentsOf: field.name.utf8)
            storage.append(UInt8(ascii: "="))
            storage.append(contentsOf: field.value.utf8)
            ranges.append(start..<storage.count)
        }
        return storage.withUnsafeMutableBytes { raw -> Int32 in
            guard let base = raw.baseAddress else { return -EINVAL }
            var vectors = ranges.map { iovec(iov_base: base + $0.lowerBound, iov_len: $0.count) }
            return vectors.withUnsafeMutableBufferPointer { buffer in
                csystemd_journal_sendv(buffer.baseAddress, Int32(buffer.count))
            }
        }
    }
}
