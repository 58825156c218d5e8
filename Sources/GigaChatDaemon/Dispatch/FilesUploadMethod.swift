import CurlHTTP
import GigaChatAPI
import GigaChatProtocol

/// `files.upload {"path", "purpose"?, "mime"?}`: the daemon opens the file as its client could (see
/// `UploadPolicy`) and streams it to the API as multipart, as the SDK sends it.
struct FilesUploadMethod: Sendable {
    let upstream: UpstreamService
    let fileIO: FileIO
    let policy: UploadPolicy

    func callAsFunction(_ params: Params, context: RequestContext) async throws(RPCError) -> JSONValue {
        let path = try params.requiredString("path")
        let purpose = try params.headerValue("purpose") ?? "general"
        let mime = try params.headerValue("mime")
        guard path.hasPrefix("/") else {
            throw Params.invalid("\"path\" must be absolute: the daemon does not share the client's working directory")
        }
        let filename = String(path.split(separator: "/").last ?? "")
        guard !filename.isEmpty, !filename.unicodeScalars.contains(where: ControlCharacters.isControl) else {
            throw Params.invalid("the file name must not be empty or contain control characters (line breaks, NUL, escapes)")
        }
        let policy = policy
        let peer = context.peer
        let opened = try await fileIO.run { () throws(RPCError) -> UploadPolicy.Opened in try policy.open(path, peer: peer) }
        let file = UploadFile(descriptor: opened.descriptor, size: opened.size)
        let parts = [
            MultipartPart(name: "file", filename: filename, contentType: mime ?? Self.mimeType(for: filename), content: .file(file)),
            MultipartPart(name: "purpose", data: Array(purpose.utf8)),
        ]
        let client = await upstream.client
        do {
            return try await client.send(APICall(.post, APIPath.files, body: .multipart(parts)))
        } catch {
            if file.shrank { throw RPCError(.localError, "cannot upload \(path): the file shrank while it was being sent") }
            throw error.rpcError
        }
    }

    static func mimeType(for filename: String) -> String {
        let name = filename.lowercased()
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "application/octet-stream" }
        switch name[name.index(after: dot)...] {
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
