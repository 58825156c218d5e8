import GigaChatProtocol
import Logging

/// Makes every control character in a log entry visible (`\n`, `\u{1B}`) before `Base` writes it.
///
/// Log lines quote what clients and the API send — a method name, a request id, an error message — and a
/// newline in one would start a forged line on stderr, an escape sequence would drive the terminal of
/// whoever reads the log. The handler's own metadata lives here, not in `Base`, so it is escaped too.
public struct EscapingLogHandler<Base: LogHandler>: LogHandler {
    private var base: Base
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(_ base: Base) {
        self.base = base
        self.metadataProvider = base.metadataProvider
        self.base.metadataProvider = nil
    }

    public var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let given = event.metadata { merged.merge(given) { _, new in new } }
        var escaped = event
        escaped.message = "\(ControlCharacters.escaped(event.message.description))"
        escaped.metadata = Self.escape(merged)
        base.log(event: escaped)
    }

    static func escape(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var output: Logger.Metadata = [:]
        for (key, value) in metadata { output[ControlCharacters.escaped(key)] = escape(value) }
        return output
    }

    static func escape(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): return .string(ControlCharacters.escaped(text))
        case .stringConvertible(let convertible): return .string(ControlCharacters.escaped(convertible.description))
        case .array(let values): return .array(values.map(escape))
        case .dictionary(let dictionary): return .dictionary(escape(dictionary))
        }
    }
}
