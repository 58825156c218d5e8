import ArgumentParser
import GigaChatProtocol

/// Shell completion of names only the daemon knows. Runs inside the shell's completion, so it asks
/// the socket named on the line being completed (or the default one) with a short deadline, and
/// completes nothing rather than hang or complain.
enum Completions {
    static let conversationNames = CompletionKind.custom { words, _, _ in
        names(RPCMethod.conversationsList, words: words) { $0["conversations"]?.arrayValue }
    }

    static let fileIDs = CompletionKind.custom { words, _, _ in
        names(RPCMethod.filesList, key: "id", words: words) { $0["data"]?.arrayValue }
    }

    /// Models that chat (for chat, tokens and models get).
    static let chatModels = CompletionKind.custom { words, _, _ in
        names(RPCMethod.models, key: "id", words: words) { result in
            result["data"]?.arrayValue?.filter { $0["type"]?.stringValue != "embedder" }
        }
    }

    /// Embedding models (for embed).
    static let embeddingModels = CompletionKind.custom { words, _, _ in
        names(RPCMethod.models, key: "id", words: words) { result in
            result["data"]?.arrayValue?.filter { $0["type"]?.stringValue == "embedder" }
        }
    }

    /// Any model (for models get).
    static let allModels = CompletionKind.custom { words, _, _ in
        names(RPCMethod.models, key: "id", words: words) { $0["data"]?.arrayValue }
    }

    private static let deadline: Duration = .seconds(2)

    private static func names(
        _ method: String, key: String = "name", words: [String], list: (JSONValue) -> [JSONValue]?
    ) -> [String] {
        let limits = CallLimits(firstLine: deadline, total: deadline)
        guard let client = try? DaemonClient(socketPath: SocketPath.resolve(flag: socket(in: words)).path, timeout: deadline),
            case .finished(.success(let result)) = try? client.call(method, limits: limits)
        else { return [] }
        return list(result)?.compactMap { $0[key]?.stringValue } ?? []
    }

    /// The value of `--socket PATH` or `--socket=PATH` on the line being completed.
    static func socket(in words: [String]) -> String? {
        var found: String?
        for (index, word) in words.enumerated() {
            if word == "--socket", index + 1 < words.count {
                found = words[index + 1]
            } else if word.hasPrefix("--socket=") {
                found = String(word.dropFirst("--socket=".count))
            }
        }
        return found.map(unquoted)
    }

    /// Shells pass words as typed: `'~/my dir/d.sock'` or `~/d.sock`.
    private static func unquoted(_ word: String) -> String {
        var text = word
        if text.count >= 2, let first = text.first, first == "'" || first == "\"", text.last == first {
            text = String(text.dropFirst().dropLast())
        }
        if text.hasPrefix("~/"), let home = SocketPath.processEnvironment("HOME") {
            text = home + text.dropFirst()
        }
        return text
    }
}
