import CurlHTTP
import Foundation
import GigaChatAPI
import GigaChatProtocol

/// `files.upload {"path", "purpose"?, "mime"?}`: the daemon reads the file (it runs as the same user) and
/// uploads it as multipart, as the SDK does.
struct FilesUploadMethod: Sendable {
    static let maxFileBytes = 512 * 1024 * 1024

    let upstream: UpstreamService

    func callAsFunction(_ params: Params) async throws(RPCError) -> JSONValue {
        let path = try params.requiredString("path")
        let purpose = try params.string("purpose") ?? "general"
        guard path.hasPrefix("/") else {
            throw Params.invalid("\"path\" must be absolute: the daemon does not share the client's working directory")
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw RPCError(.localError, "cannot upload \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw RPCError(.localError, "cannot upload \(path): not a regular file") }
        guard Int(info.st_size) <= Self.maxFileBytes else {
            throw RPCError(.localError, "cannot upload \(path): larger than \(Self.maxFileBytes / 1024 / 1024) MiB")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RPCError(.localError, "cannot read \(path)")
        }
        let filename = (path as NSString).lastPathComponent
        let mime = try params.string("mime") ?? Self.mimeType(for: filename)
        let parts = [
            MultipartPart(name: "file", filename: filename, contentType: mime, data: Array(data)),
            MultipartPart(name: "purpose", data: Array(purpose.utf8)),
        ]
        let client = await upstream.client
        do {
            return try await client.send(APICall(.post, "/files", body: .multipart(parts)))
        } catch {
            throw error.rpcError
        }
    }

    static func mimeType(for filename: String) -> String {
        switch (filename as NSString).pathExtension.lowercased() {
        case "jpg", "jpeg": return "image/jpeg"
        case "png": return "image/png"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "pdf": return "application/pdf"
        case "txt", "md": return "text/plain"
        case "json": return "application/json"
        case "csv": return "text/csv"
        case "doc": return "application/msword"
        case "docx": return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        case "mp3": return "audio/mpeg"
        case "wav": return "audio/wav"
        default: return "application/octet-stream"
        }
    }
}
