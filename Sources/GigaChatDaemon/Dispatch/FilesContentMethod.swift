import Foundation
import GigaChatAPI
import GigaChatProtocol
import Glibc

/// `files.content {"id", "path"?}`: a file's bytes (an upload, or an image the API generated), written to
/// a new file at `path`, or returned base64-encoded.
struct FilesContentMethod: Sendable {
    /// Generated images are a few hundred kilobytes; the answer also has to fit a protocol line as base64.
    static let maxBytes = 64 * 1024 * 1024

    let upstream: UpstreamService
    let fileIO: FileIO

    func callAsFunction(_ params: Params) async throws(RPCError) -> JSONValue {
        let id = try params.pathSegment("id")
        let path = try params.string("path")
        if let path, !path.hasPrefix("/") {
            throw Params.invalid("\"path\" must be absolute: the daemon does not share the client's working directory")
        }
        var call = APICall(.get, APIPath.fileContent(id))
        // The SDK asks for JPEG (generated images are JPEG); the API sends any file's own type regardless.
        call.headers = [("Accept", "application/jpg, application/octet-stream, */*")]
        let client = await upstream.client
        let download: (bytes: [UInt8], contentType: String?)
        do {
            download = try await client.download(call, limit: Self.maxBytes)
        } catch {
            throw error.rpcError
        }
        var result: JSONObject = [
            "id": .string(id),
            "bytes": .int(Int64(download.bytes.count)),
            "mime": download.contentType.map { .string(ControlCharacters.oneLine($0)) } ?? .null,
        ]
        guard let path else {
            result["content_base64"] = .string(Data(download.bytes).base64EncodedString())
            return .object(result)
        }
        let bytes = download.bytes
        try await fileIO.run { () throws(RPCError) in try Self.writeNewFile(bytes, to: path) }
        result["path"] = .string(path)
        return .object(result)
    }

    /// Creates `path` (0600) and writes `bytes`; never replaces an existing file.
    static func writeNewFile(_ bytes: [UInt8], to path: String) throws(RPCError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            let reason = errno == EEXIST ? "it already exists; gigachatd does not overwrite files" : ErrorCause.lastErrno.description
            throw RPCError(.localError, "cannot write \(path): \(reason)")
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress.map { $0 + offset }, bytes.count - offset) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else {
                let reason = ErrorCause.lastErrno.description
                close(descriptor)
                unlink(path)
                throw RPCError(.localError, "cannot write \(path): \(reason)")
            }
            offset += written
        }
        close(descriptor)
    }
}
