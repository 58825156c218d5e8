import ArgumentParser
import GigaChatProtocol

/// Shell completion of names only the daemon knows. Runs inside the shell's completion, so it asks
/// the default socket with a short deadline and completes nothing rather than hang or complain.
enum Completions {
    static let conversationNames = CompletionKind.custom { _, _, _ in
        names(RPCMethod.conversationsList) { $0["conversations"] }
    }

    static let fileIDs = CompletionKind.custom { _, _, _ in
        names(RPCMethod.filesList, key: "id") { $0["data"] }
    }

    private static func names(_ method: String, key: String = "name", list: (JSONValue) -> JSONValue?) -> [String] {
        guard let client = try? DaemonClient(socketPath: SocketPath.resolve(flag: nil).path),
            case .finished(.success(let result)) = try? client.call(method, timeoutMilliseconds: 2000)
        else { return [] }
        return list(result)?.arrayValue?.compactMap { $0[key]?.stringValue } ?? []
    }
}
