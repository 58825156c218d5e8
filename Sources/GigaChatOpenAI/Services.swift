import CurlHTTP
import GigaChatAPI
import GigaChatProtocol

/// Images already uploaded to GigaChat, so a conversation that sends the same picture on every turn
/// uploads it once. Keyed by size and two independent 64-bit hashes of the bytes; bounded, oldest first out.
actor ImageCache {
    struct Key: Hashable, Sendable {
        var count: Int
        var fnv: UInt64
        var djb: UInt64

        init(_ bytes: [UInt8]) {
            count = bytes.count
            var fnv: UInt64 = 0xcbf2_9ce4_8422_2325
            var djb: UInt64 = 5381
            for byte in bytes {
                fnv = (fnv ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
                djb = (djb &<< 5) &+ djb &+ UInt64(byte)
            }
            self.fnv = fnv
            self.djb = djb
        }
    }

    static let capacity = 256
    private var ids: [Key: String] = [:]
    private var order: [Key] = []

    func fileID(for key: Key) -> String? { ids[key] }

    func remember(_ key: Key, fileID: String) {
        if ids.updateValue(fileID, forKey: key) == nil { order.append(key) }
        while order.count > Self.capacity {
            ids[order.removeFirst()] = nil
        }
    }

    /// The GigaChat file id of `data`, uploading it unless it was uploaded before.
    func upload(_ data: [UInt8], mimeType: String, client: GigaChatClient) async throws(APIError) -> String {
        let key = Key(data)
        if let known = ids[key] { return known }
        let ext = mimeType.split(separator: "/").last.map(String.init) ?? "bin"
        let parts = [
            MultipartPart(name: "file", filename: "image.\(ext)", contentType: mimeType, data: data),
            MultipartPart(name: "purpose", data: Array("general".utf8)),
        ]
        let reply = try await client.send(APICall(.post, "/files", body: .multipart(parts)))
        guard let id = reply["id"]?.stringValue else {
            throw APIError(.malformed, "the API answered an image upload without a file id")
        }
        remember(key, fileID: id)
        return id
    }
}

/// GigaChat's model list, fetched when an error message needs it and kept for a few minutes.
actor ModelCatalog {
    private var names: [String] = []
    private var fetchedAt: ContinuousClock.Instant?
    static let lifetime = Duration.seconds(300)

    func names(client: GigaChatClient) async -> [String] {
        if let fetchedAt, ContinuousClock.now - fetchedAt < Self.lifetime { return names }
        guard let reply = try? await client.send(APICall(.get, "/models")) else { return names }
        names = (reply["data"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
        fetchedAt = .now
        return names
    }
}
