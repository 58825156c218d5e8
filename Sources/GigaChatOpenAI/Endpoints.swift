import Foundation
import GigaChatAPI
import GigaChatProtocol
import NIOHTTP1

/// `POST /v1/embeddings`: GigaChat's `/embeddings` in OpenAI's shape, as floats or base64.
enum EmbeddingsEndpoint {
    static let defaultModel = "Embeddings"

    static func handle(_ exchange: Exchange) async throws(OpenAIError) {
        let object = try exchange.jsonObject()
        let fields = Fields(object)
        let requested = try fields.string("model") ?? defaultModel
        let model = exchange.settings.modelAliases[requested] ?? requested
        var inputs: [JSONValue] = []
        switch object["input"] {
        case .string(let text)?:
            inputs = [.string(text)]
        case .array(let items)?:
            guard !items.isEmpty else { throw .invalid("input must not be empty", param: "input") }
            for item in items {
                switch item {
                case .string: inputs.append(item)
                case .int, .double, .array:
                    throw .unsupported("input as token ids is not supported: GigaChat embeds text; send strings", param: "input")
                default:
                    throw .invalid("input must be a string or a list of strings", param: "input")
                }
            }
        default:
            throw .invalid("input is required: a string or a list of strings", param: "input")
        }
        let format = try fields.string("encoding_format") ?? "float"
        guard format == "float" || format == "base64" else {
            throw .invalid("encoding_format must be float or base64", param: "encoding_format")
        }
        if try fields.integer("dimensions") != nil {
            throw .unsupported("dimensions is not supported: GigaChat's embedding models have a fixed size", param: "dimensions")
        }

        let result: JSONValue
        do {
            result = try await exchange.client.send(APICall(.post, "/embeddings", body: .json(["model": .string(model), "input": .array(inputs)])))
        } catch {
            var mapped = exchange.failure(error)
            if mapped.status == .notFound { mapped = await ChatEndpoint.modelNotFound(requested, exchange: exchange) }
            throw mapped
        }
        var data: [JSONValue] = []
        var tokens: Int64 = 0
        for (position, item) in (result["data"]?.arrayValue ?? []).enumerated() {
            let vector = item["embedding"]?.arrayValue ?? []
            let embedding: JSONValue = format == "base64" ? .string(base64(vector)) : .array(vector.map { .double($0.doubleValue ?? 0) })
            data.append([
                "object": "embedding",
                "index": item["index"] ?? .int(Int64(position)),
                "embedding": embedding,
            ])
            tokens = tokens &+ (item["usage"]?["prompt_tokens"]?.intValue ?? 0)
        }
        let reply: JSONValue = [
            "object": "list",
            "data": .array(data),
            "model": result["model"] ?? .string(model),
            "usage": ["prompt_tokens": .int(tokens), "total_tokens": .int(tokens)],
        ]
        try? await exchange.response.sendJSON(.ok, reply)
    }

    /// OpenAI's base64 encoding: little-endian float32s.
    static func base64(_ vector: [JSONValue]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(vector.count * 4)
        for value in vector {
            let bits = Float(value.doubleValue ?? 0).bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return Data(bytes).base64EncodedString()
    }
}

/// `GET /v1/models` and `GET /v1/models/{id}`: GigaChat's models, plus the configured aliases.
enum ModelsEndpoint {
    static func list(_ exchange: Exchange) async throws(OpenAIError) {
        let result: JSONValue
        do {
            result = try await exchange.client.send(APICall(.get, "/models"))
        } catch {
            throw exchange.failure(error)
        }
        var data: [JSONValue] = (result["data"]?.arrayValue ?? []).compactMap { model in
            guard let id = model["id"]?.stringValue else { return nil }
            return entry(id, ownedBy: model["owned_by"]?.stringValue ?? "salutedevices")
        }
        for (alias, target) in exchange.settings.modelAliases.sorted(by: { $0.key < $1.key }) {
            data.append(entry(alias, ownedBy: "gigachatd alias of \(target)"))
        }
        try? await exchange.response.sendJSON(.ok, ["object": "list", "data": .array(data)])
    }

    static func get(_ exchange: Exchange, id: String) async throws(OpenAIError) {
        if let target = exchange.settings.modelAliases[id] {
            try? await exchange.response.sendJSON(.ok, entry(id, ownedBy: "gigachatd alias of \(target)"))
            return
        }
        guard id != ".", id != "..", !id.contains("/") else { throw .notFound("no model \(id)") }
        let result: JSONValue
        do {
            result = try await exchange.client.send(APICall(.get, "/models/\(Router.percentEncoded(id))"))
        } catch {
            var mapped = exchange.failure(error)
            if mapped.status == .notFound { mapped = await ChatEndpoint.modelNotFound(id, exchange: exchange) }
            throw mapped
        }
        try? await exchange.response.sendJSON(.ok, entry(result["id"]?.stringValue ?? id, ownedBy: result["owned_by"]?.stringValue ?? "salutedevices"))
    }

    static func entry(_ id: String, ownedBy: String) -> JSONValue {
        ["id": .string(id), "object": "model", "created": 0, "owned_by": .string(ownedBy)]
    }
}
