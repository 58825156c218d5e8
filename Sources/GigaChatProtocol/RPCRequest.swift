/// A JSON-RPC request id: an integer or a string.
public enum RPCID: Sendable, Hashable, CustomStringConvertible {
    case int(Int64)
    case string(String)

    public var json: JSONValue {
        switch self {
        case .int(let value): return .int(value)
        case .string(let value): return .string(value)
        }
    }

    /// Accepts the two id forms this daemon supports; nil for anything else.
    public init?(json value: JSONValue) {
        switch value {
        case .string(let string): self = .string(string)
        case .int(let int): self = .int(int)
        default: return nil
        }
    }

    public var description: String { json.jsonText }
}

/// A decoded, validated request line.
public struct RPCRequest: Sendable, Hashable {
    /// nil for a notification: it runs and gets no reply.
    public var id: RPCID?
    public var method: String
    /// An object (or absent). Positional array params are refused, since every method takes named fields.
    public var params: JSONObject

    public init(id: RPCID?, method: String, params: JSONObject = [:]) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// The request as one protocol line, newline included.
    public var line: [UInt8] {
        var object: JSONObject = ["jsonrpc": "2.0"]
        if let id { object["id"] = id.json }
        object["method"] = .string(method)
        if !params.isEmpty { object["params"] = .object(params) }
        var bytes: [UInt8] = []
        JSONValue.object(object).write(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}

/// A line that could not be accepted as a request: the error to send, and the id to send it for
/// (nil when the id itself was unreadable, which JSON-RPC answers with `"id": null`).
public struct RPCDecodingFailure: Error, Sendable, Hashable {
    public var id: RPCID?
    public var error: RPCError
}

extension RPCRequest {
    /// Decodes one line (without its newline).
    ///
    /// Lenient where a person typing requests by hand would trip (a missing "jsonrpc" is accepted),
    /// strict everywhere else.
    public static func decode<Bytes: Collection>(line: Bytes) -> Result<RPCRequest, RPCDecodingFailure> where Bytes.Element == UInt8 {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: line)
        } catch {
            return .failure(RPCDecodingFailure(id: nil, error: RPCError(.parseError, "Parse error: \(error.description)")))
        }
        return decode(value)
    }

    public static func decode(_ value: JSONValue) -> Result<RPCRequest, RPCDecodingFailure> {
        guard case .object(let object) = value else {
            let message: String
            if case .array = value {
                message = "Invalid request: batches (JSON arrays) are not supported; send one object per line"
            } else {
                message = "Invalid request: expected a JSON object, got \(value.typeName)"
            }
            return .failure(RPCDecodingFailure(id: nil, error: RPCError(.invalidRequest, message)))
        }
        var id: RPCID?
        if let rawID = object["id"] {
            guard let parsed = RPCID(json: rawID) else {
                return .failure(
                    RPCDecodingFailure(
                        id: nil,
                        error: RPCError(.invalidRequest, "Invalid request: \"id\" must be a string or an integer, got \(rawID.typeName)")
                    ))
            }
            id = parsed
        }
        func invalid(_ message: String) -> Result<RPCRequest, RPCDecodingFailure> {
            .failure(RPCDecodingFailure(id: id, error: RPCError(.invalidRequest, "Invalid request: \(message)")))
        }
        if let version = object["jsonrpc"], version != .string("2.0") {
            return invalid("\"jsonrpc\" must be \"2.0\"")
        }
        guard let methodValue = object["method"] else { return invalid("\"method\" is missing") }
        guard case .string(let method) = methodValue else {
            return invalid("\"method\" must be a string, got \(methodValue.typeName)")
        }
        var params = JSONObject()
        switch object["params"] {
        case nil, .null?:
            break
        case .object(let given)?:
            params = given
        case let other?:
            return .failure(
                RPCDecodingFailure(
                    id: id,
                    error: RPCError(.invalidParams, "Invalid params: \"params\" must be an object, got \(other.typeName)")
                ))
        }
        return .success(RPCRequest(id: id, method: method, params: params))
    }
}
