import CurlHTTP
import Foundation
import GigaChatAPI
import GigaChatProtocol
import NIOHTTP1

/// GigaChat's own REST API through the daemon: `/api/v1/...` and `/api/v2/chat/completions` are sent
/// upstream with the daemon's token, through its queue and retries, and the reply is passed back as it
/// arrives. The caller's Authorization header never leaves the daemon.
enum GigaChatForward {
    /// Request headers passed on: ids that tie requests together, nothing that authenticates.
    static let passedHeaders = ["X-Session-ID", "X-Request-ID", "X-Client-ID"]
    /// Largest file upload relayed (the body is held in memory while it is sent).
    static let maxUploadBytes = 64 * 1024 * 1024

    static let v2ChatPath = "/api/v2/chat/completions"

    static func upstreamPath(_ path: String) throws(OpenAIError) -> String {
        let relative: String
        if path.hasPrefix("/api/v1/") {
            relative = String(path.dropFirst("/api/v1".count))
        } else {
            throw OpenAIError(.notFound, "gigachatd forwards /api/v1/... and /api/v2/chat/completions, not \(path)", code: "not_found")
        }
        let segments = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.contains(where: { $0 == "." || $0 == ".." }) else {
            throw OpenAIError(.badRequest, "the path must not contain . or .. segments")
        }
        switch relative {
        case "/token", "/oauth":
            throw OpenAIError(
                .notFound,
                "gigachatd authenticates to GigaChat itself: set GIGACHAT_ACCESS_TOKEN to the local key (any value on the Unix socket) instead of credentials",
                code: "not_found"
            )
        default:
            return relative
        }
    }

    static func handle(_ exchange: Exchange) async throws(OpenAIError) {
        let request = exchange.request
        let v2 = request.path == v2ChatPath
        var path = v2 ? v2ChatPath : try upstreamPath(request.path)
        if let query = request.query, !query.isEmpty {
            guard !query.unicodeScalars.contains(where: { ControlCharacters.isControl($0) || $0 == " " }) else {
                throw OpenAIError(.badRequest, "the query must not contain spaces or control characters")
            }
            path += "?" + query
        }
        let method: HTTPRequest.Method
        switch request.method {
        case .GET: method = .get
        case .POST: method = .post
        case .DELETE: method = .delete
        default: throw OpenAIError(.methodNotAllowed, "GigaChat's API takes GET, POST and DELETE")
        }
        var body = APICall.Body.none
        var streaming = false
        if !request.body.isEmpty {
            let contentType = request.header("Content-Type") ?? ""
            if contentType.lowercased().hasPrefix("multipart/form-data") {
                // A file upload, sent on byte for byte with its boundary.
                guard !contentType.unicodeScalars.contains(where: ControlCharacters.isControl) else {
                    throw OpenAIError(.badRequest, "the Content-Type must not contain control characters")
                }
                body = .bytes(request.body, contentType: contentType)
            } else {
                guard let json = try? JSONValue(parsing: request.body) else {
                    throw OpenAIError(.badRequest, "the body must be JSON (or multipart/form-data for a file upload)")
                }
                streaming = json["stream"]?.boolValue ?? false
                body = .jsonBytes(request.body)
            }
        }
        var headers: [(name: String, value: String)] = []
        for name in passedHeaders {
            guard let value = request.header(name), !value.unicodeScalars.contains(where: ControlCharacters.isControl) else { continue }
            headers.append((name, value))
        }
        var call = APICall(method, path, body: body, headers: headers, streaming: streaming)
        if v2 {
            guard method == .post, case .jsonBytes(let bytes) = body else {
                throw OpenAIError(.badRequest, "\(v2ChatPath) takes a POST with a JSON body")
            }
            call = .v2Chat(body: bytes, headers: headers, streaming: streaming)
        }
        let streams = streaming
        let response = exchange.response
        do {
            try await exchange.client.forward(call) { head in
                var replyHeaders: [(String, String)] = []
                if let type = head.contentType { replyHeaders.append(("Content-Type", type)) }
                if streams { replyHeaders.append(("Cache-Control", "no-cache")) }
                try await response.start(HTTPResponseStatus(statusCode: head.status), headers: replyHeaders)
            } onBody: { bytes in
                try await response.write(bytes)
            }
            try? await response.finish()
        } catch {
            guard !response.headSent else {
                // Too late for a status: the client sees the body cut off.
                response.markMustClose()
                return
            }
            var mapped = exchange.failure(error)
            if error.kind == .http, let status = error.status {
                // The API's own status, as a direct caller would have seen it.
                mapped.status = HTTPResponseStatus(statusCode: status)
            }
            throw mapped
        }
    }
}
