/// Every REST path of the API the daemon calls (relative to the v1 base URL), and the default models of
/// the endpoints that need one: the one place a newcomer looks to add or change an endpoint.
public enum APIPath {
    public static let chat = "/chat/completions"
    public static let models = "/models"
    public static let embeddings = "/embeddings"
    public static let tokensCount = "/tokens/count"
    public static let balance = "/balance"
    public static let files = "/files"
    public static let aiCheck = "/ai/check"
    public static let functionsConvert = "/functions/convert"
    /// Password auth, on the API host itself.
    public static let token = "/token"

    public static func model(_ id: String) -> String { "/models/\(segment(id))" }
    public static func file(_ id: String) -> String { "/files/\(segment(id))" }
    public static func fileDelete(_ id: String) -> String { "/files/\(segment(id))/delete" }
    public static func fileContent(_ id: String) -> String { "/files/\(segment(id))/content" }

    public static let defaultEmbeddingsModel = "Embeddings"
    public static let defaultAICheckModel = "GigaCheckDetection"

    /// An id from a user as one path segment: everything but RFC 3986's unreserved characters and ":"
    /// (model versions such as `GigaChat:2.0.28.2`) is percent-encoded, so no id can reach another path.
    /// ("." and ".." are refused before this.)
    public static func segment(_ value: String) -> String {
        PercentEncoding.encode(value, keeping: unreservedBytes.union([UInt8(ascii: ":")]))
    }

    static let unreservedBytes = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~".utf8)
}

/// Percent-encoding (RFC 3986), for path segments and form values.
public enum PercentEncoding {
    /// `value` with every UTF-8 byte not in `keeping` written as `%XX`.
    public static func encode(_ value: String, keeping: Set<UInt8>) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            if keeping.contains(byte) {
                output.append(byte)
            } else {
                output += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
