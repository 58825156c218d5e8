import NIOHTTP1

/// Checks the caller may ask, then sends the request to its endpoint.
enum Router {
    /// Answers `exchange`; returns the error it was answered with, if any.
    static func handle(_ exchange: Exchange, transport: OpenAIServer.Transport, key: LocalKey?) async -> OpenAIError? {
        let path = exchange.request.path
        let gigaChat = path.hasPrefix("/api/")
        if transport == .tcp {
            // Any local user can reach a TCP port: the local key is what proves the caller is the owner.
            let authorization = exchange.request.header("Authorization")
            guard let key, key.matches(authorization: authorization) else {
                let error: OpenAIError = authorization == nil ? .missingKey : .wrongKey
                await exchange.fail(error, gigaChatShape: gigaChat)
                return error
            }
        }
        do throws(OpenAIError) {
            if gigaChat {
                try await GigaChatForward.handle(exchange)
            } else {
                try await openAI(exchange)
            }
            return nil
        } catch {
            await exchange.fail(error, gigaChatShape: gigaChat)
            return error
        }
    }

    /// The OpenAI paths, with or without the `/v1` prefix (tools differ in what they append to a base URL).
    static func openAI(_ exchange: Exchange) async throws(OpenAIError) {
        var path = exchange.request.path
        if path.hasPrefix("/v1/") { path.removeFirst(3) }
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        let method = exchange.request.method
        func require(_ expected: HTTPMethod) throws(OpenAIError) {
            guard method == expected else {
                throw OpenAIError(.methodNotAllowed, "\(path) takes \(expected.rawValue), not \(method.rawValue)", code: "method_not_allowed")
            }
        }
        switch path {
        case "/chat/completions":
            try require(.POST)
            try await ChatEndpoint.handle(exchange)
        case "/embeddings":
            try require(.POST)
            try await EmbeddingsEndpoint.handle(exchange)
        case "/models":
            try require(.GET)
            try await ModelsEndpoint.list(exchange)
        default:
            if path.hasPrefix("/models/") {
                try require(.GET)
                try await ModelsEndpoint.get(exchange, id: percentDecoded(String(path.dropFirst("/models/".count))))
                return
            }
            throw OpenAIError(
                .notFound,
                "gigachatd does not serve \(path); it serves /v1/chat/completions, /v1/embeddings, /v1/models and GigaChat's /api/v1/... paths",
                code: "not_found"
            )
        }
    }

    static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(), let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else {
                return text
            }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func percentEncoded(_ text: String) -> String {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:".utf8)
        var out = ""
        for byte in text.utf8 {
            if allowed.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
