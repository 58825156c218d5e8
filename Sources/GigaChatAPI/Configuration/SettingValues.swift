import Foundation

/// Settings as text by key name (`GIGACHAT_TIMEOUT` → `"30"`), merged from wherever they came from, with
/// the typed readers every owner of settings uses: each rule (a range, a boolean, a URL) is checked and
/// worded the same way whoever owns the key. Every number has a range, so nothing later can trap or
/// misbehave on a value a reader accepted.
public struct SettingValues: Sendable, Equatable {
    public var values: [String: String]

    public init(_ values: [String: String] = [:]) {
        self.values = values
    }

    /// The value, trimmed; nil when unset or blank.
    public func string(_ key: String) -> String? {
        guard let value = values[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    public func number(_ key: String, _ range: ClosedRange<Double>) throws(ConfigurationError) -> Double? {
        guard let text = string(key) else { return nil }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw ConfigurationError("\(key) must be a number from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound)), got \"\(text)\"")
        }
        return value
    }

    public func integer(_ key: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = string(key) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError("\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
        }
        return value
    }

    public func boolean(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let text = string(key) else { return nil }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError("\(key) must be true or false, got \"\(text)\"")
        }
    }

    public func url(_ key: String) throws(ConfigurationError) -> String? {
        guard let text = string(key) else { return nil }
        guard text.hasPrefix("https://") || text.hasPrefix("http://") else {
            throw ConfigurationError("\(key) must be an http(s) URL, got \"\(text)\"")
        }
        return text
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
