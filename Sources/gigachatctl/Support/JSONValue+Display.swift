import GigaChatProtocol

extension JSONValue {
    /// One table cell: strings without quotes, null as "-", anything structured as compact JSON.
    var displayText: String {
        switch self {
        case .null: return "-"
        case .string(let text): return text
        case .bool(let flag): return flag ? "yes" : "no"
        case .int(let number): return String(number)
        case .double(let number): return number.description
        case .array, .object: return jsonText
        }
    }

    /// A table cell as `displayText`, with ISO 8601 times shown as local "YYYY-MM-DD HH:MM".
    var cellText: String {
        if case .string(let text) = self, let local = TimeText.local(iso: text) { return local }
        return displayText
    }

    /// `key`/value pairs for `Table.keyValue`, nested objects as `outer.inner`, in document order.
    func flattened(prefix: String = "") -> [(String, String)] {
        guard case .object(let object) = self else { return [(prefix, cellText)] }
        var pairs: [(String, String)] = []
        for (key, value) in object {
            let name = prefix.isEmpty ? key : "\(prefix).\(key)"
            if case .object = value {
                pairs += value.flattened(prefix: name)
            } else {
                pairs.append((name, value.cellText))
            }
        }
        return pairs
    }

    /// Indented JSON for people (function-call arguments), two spaces per level.
    func prettyText(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { inner + $0.prettyText(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let object) where !object.isEmpty:
            let members = object.map { key, value in
                inner + JSONValue.string(key).jsonText + ": " + value.prettyText(indent: inner)
            }
            return "{\n" + members.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return jsonText
        }
    }
}
