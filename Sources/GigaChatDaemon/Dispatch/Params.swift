import GigaChatProtocol

/// Typed access to a request's params; every wrong type becomes a -32602 naming the field.
struct Params: Sendable {
    let object: JSONObject

    init(_ object: JSONObject) { self.object = object }

    static func invalid(_ message: String) -> RPCError {
        RPCError(.invalidParams, "Invalid params: \(message)")
    }

    func string(_ key: String) throws(RPCError) -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let string = value.stringValue else {
            throw Self.invalid("\"\(key)\" must be a string, got \(value.typeName)")
        }
        return string
    }

    func requiredString(_ key: String) throws(RPCError) -> String {
        guard let value = try string(key) else { throw Self.invalid("\"\(key)\" is required") }
        guard !value.isEmpty else { throw Self.invalid("\"\(key)\" must not be empty") }
        return value
    }

    /// A string that is sent as an HTTP header value or a multipart field: no control characters, which
    /// would end the header early (CR, LF) or truncate it (NUL).
    func headerValue(_ key: String) throws(RPCError) -> String? {
        guard let value = try string(key) else { return nil }
        guard !value.unicodeScalars.contains(where: ControlCharacters.isControl) else {
            throw Self.invalid("\"\(key)\" must not contain control characters (line breaks, NUL, escapes)")
        }
        return value
    }

    /// An id that becomes one segment of an API path: non-empty, and not "." or "..", which would name
    /// another path.
    func pathSegment(_ key: String) throws(RPCError) -> String {
        let value = try requiredString(key)
        guard value != ".", value != ".." else { throw Self.invalid("\"\(key)\" must not be \".\" or \"..\"") }
        return value
    }

    func bool(_ key: String) throws(RPCError) -> Bool? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let bool = value.boolValue else { throw Self.invalid("\"\(key)\" must be true or false, got \(value.typeName)") }
        return bool
    }

    func array(_ key: String) throws(RPCError) -> [JSONValue]? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let array = value.arrayValue else { throw Self.invalid("\"\(key)\" must be an array, got \(value.typeName)") }
        return array
    }

    func number(_ key: String) throws(RPCError) -> Double? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let number = value.doubleValue else { throw Self.invalid("\"\(key)\" must be a number, got \(value.typeName)") }
        return number
    }

    func integer(_ key: String) throws(RPCError) -> Int64? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let number = value.intValue else { throw Self.invalid("\"\(key)\" must be an integer, got \(value.typeName)") }
        return number
    }

    /// A string, or a list of strings (embeddings and token counting take either).
    func stringList(_ key: String) throws(RPCError) -> [String] {
        switch object[key] {
        case .string(let single)?:
            return [single]
        case .array(let items)?:
            var strings: [String] = []
            for item in items {
                guard let string = item.stringValue else { throw Self.invalid("\"\(key)\" must hold only strings") }
                strings.append(string)
            }
            guard !strings.isEmpty else { throw Self.invalid("\"\(key)\" must not be empty") }
            return strings
        case nil, .null?:
            throw Self.invalid("\"\(key)\" is required")
        case let other?:
            throw Self.invalid("\"\(key)\" must be a string or a list of strings, got \(other.typeName)")
        }
    }
}
