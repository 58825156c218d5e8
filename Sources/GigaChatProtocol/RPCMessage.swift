/// A line the daemon sends: a final response or a notification.
public enum RPCMessage: Sendable, Hashable {
    /// The one final answer to request `id` (nil id only for errors about unreadable requests).
    case response(id: RPCID?, result: Result<JSONValue, RPCError>)
    case notification(method: String, params: JSONObject)

    /// Encodes the message as one line, newline included.
    public var line: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(96)
        write(into: &bytes)
        return bytes
    }

    /// Appends the message's line (newline included) to `bytes`.
    public func write(into bytes: inout [UInt8]) {
        bytes.append(contentsOf: #"{"jsonrpc":"2.0","#.utf8)
        switch self {
        case .response(let id, let result):
            bytes.append(contentsOf: #""id":"#.utf8)
            (id?.json ?? .null).write(into: &bytes)
            switch result {
            case .success(let value):
                bytes.append(contentsOf: #","result":"#.utf8)
                value.write(into: &bytes)
            case .failure(let error):
                bytes.append(contentsOf: #","error":"#.utf8)
                error.json.write(into: &bytes)
            }
        case .notification(let method, let params):
            bytes.append(contentsOf: #""method":"#.utf8)
            JSONValue.writeString(method, into: &bytes)
            bytes.append(contentsOf: #","params":"#.utf8)
            JSONValue.object(params).write(into: &bytes)
        }
        bytes.append(contentsOf: "}\n".utf8)
    }

    /// Reads a line the daemon sent (the client side of `write(into:)`).
    public init(line: some Collection<UInt8>) throws(RPCError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: line)
        } catch {
            throw RPCError(.parseError, "the daemon sent a line that is not JSON: \(error.description)")
        }
        guard case .object(let object) = value else {
            throw RPCError(.parseError, "the daemon sent a line that is not a JSON object")
        }
        if let method = object["method"]?.stringValue {
            self = .notification(method: method, params: object["params"]?.objectValue ?? [:])
            return
        }
        let id = object["id"].flatMap { RPCID(json: $0) }
        if let error = object["error"] {
            guard let rpcError = RPCError(json: error) else {
                throw RPCError(.parseError, "the daemon sent a malformed error object")
            }
            self = .response(id: id, result: .failure(rpcError))
        } else if let result = object["result"] {
            self = .response(id: id, result: .success(result))
        } else {
            throw RPCError(.parseError, "the daemon sent a line that is neither a response nor a notification")
        }
    }
}
