import GigaChatProtocol

/// The most recent chat, for `chat --continue`: the name of a conversation gigachatd keeps, or for an
/// unnamed chat its messages and model, in `$XDG_STATE_HOME/gigachat/last-chat.json` (0600).
enum LastChat {
    case conversation(String)
    case messages([JSONValue], model: String?)

    static let fileName = "last-chat.json"
    /// A REPL session can grow long; past this the file is not read back (and --continue starts afresh).
    static let maxBytes = 64 * 1024 * 1024

    static var path: String? { ClientPaths.stateDirectory.map { $0 + "/" + fileName } }

    static func load() throws(PrivateFile.Failure) -> LastChat? {
        guard let path, let bytes = try PrivateFile.read(path, limit: maxBytes) else { return nil }
        guard let value = try? JSONValue(parsing: bytes) else {
            throw PrivateFile.Failure(message: "\(path) is not valid JSON; remove it to start afresh")
        }
        if let name = value["conversation"]?.stringValue { return .conversation(name) }
        if let messages = value["messages"]?.arrayValue {
            return .messages(messages, model: value["model"]?.stringValue)
        }
        throw PrivateFile.Failure(message: "\(path) holds no conversation; remove it to start afresh")
    }

    /// Records this chat as the last one. A failure is only worth a notice: the reply is already out.
    func save() {
        guard let path = Self.path else { return }
        var object: JSONObject = [:]
        switch self {
        case .conversation(let name):
            object["conversation"] = .string(name)
        case .messages(let messages, let model):
            if let model { object["model"] = .string(model) }
            object["messages"] = .array(messages)
        }
        var bytes: [UInt8] = []
        JSONValue.object(object).write(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        do {
            try PrivateFile.write(bytes, to: path)
        } catch {
            Output.notice("--continue will not find this chat: \(error.message)")
        }
    }
}
