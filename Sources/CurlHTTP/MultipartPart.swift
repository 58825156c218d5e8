internal import CCurl
import Glibc
import NIOConcurrencyHelpers

/// One part of a `multipart/form-data` request body.
public struct MultipartPart: Sendable {
    public var name: String
    public var filename: String?
    public var contentType: String?
    public var content: Content

    /// What a part sends.
    public enum Content: Sendable {
        /// Bytes held in memory (small fields).
        case bytes([UInt8])
        /// A file streamed from its descriptor as libcurl sends it, never held whole in memory.
        case file(UploadFile)
    }

    public init(name: String, filename: String? = nil, contentType: String? = nil, data: [UInt8]) {
        self.init(name: name, filename: filename, contentType: contentType, content: .bytes(data))
    }

    public init(name: String, filename: String? = nil, contentType: String? = nil, content: Content) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.content = content
    }
}

/// An open file sent as exactly `size` bytes, read with pread(2) on libcurl's thread as the upload goes.
///
/// The size is fixed when the file is opened: a file that grows is cut at that size, one that shrinks
/// fails the transfer (and `shrank` says so), so what is sent is bounded whatever the file does. Owns the
/// descriptor and closes it when the last transfer using it is done.
public final class UploadFile: Sendable {
    public let size: Int
    private let descriptor: Int32
    private let shrankFlag = NIOLockedValueBox(false)

    /// Takes ownership of `descriptor`.
    public init(descriptor: Int32, size: Int) {
        self.descriptor = descriptor
        self.size = size
    }

    deinit {
        close(descriptor)
    }

    /// Whether the file ended before `size` bytes during an upload.
    public var shrank: Bool { shrankFlag.withLockedValue { $0 } }

    /// Reads up to `count` bytes at `offset` into `buffer`; nil when the file shrank or failed.
    func read(into buffer: UnsafeMutableRawPointer, count: Int, offset: Int) -> Int? {
        let wanted = min(count, size - offset)
        guard wanted > 0 else { return 0 }
        while true {
            let got = pread(descriptor, buffer, wanted, off_t(offset))
            if got < 0, errno == EINTR { continue }
            if got <= 0 {
                shrankFlag.withLockedValue { $0 = true }
                return nil
            }
            return got
        }
    }
}

/// One transfer's read position in an `UploadFile`: each easy handle (each retry) reads from the start.
final class UploadFileReader {
    let file: UploadFile
    var offset = 0

    init(file: UploadFile) {
        self.file = file
    }

    /// Installs the file as the data of `part`; the reader lives until libcurl frees the part.
    static func attach(_ file: UploadFile, to part: OpaquePointer) -> CURLcode {
        let reader = Unmanaged.passRetained(UploadFileReader(file: file)).toOpaque()
        let code = curl_mime_data_cb(
            part,
            curl_off_t(file.size),
            { buffer, size, count, userdata in
                guard let buffer, let userdata else { return ccurl_readfunc_abort() }
                let reader = Unmanaged<UploadFileReader>.fromOpaque(userdata).takeUnretainedValue()
                guard let got = reader.file.read(into: buffer, count: size * count, offset: reader.offset) else {
                    return ccurl_readfunc_abort()
                }
                reader.offset += got
                return got
            },
            { userdata, offset, origin in
                guard let userdata, origin == SEEK_SET, offset >= 0 else { return CURL_SEEKFUNC_CANTSEEK }
                let reader = Unmanaged<UploadFileReader>.fromOpaque(userdata).takeUnretainedValue()
                guard offset <= curl_off_t(reader.file.size) else { return CURL_SEEKFUNC_FAIL }
                reader.offset = Int(offset)
                return CURL_SEEKFUNC_OK
            },
            { userdata in
                guard let userdata else { return }
                Unmanaged<UploadFileReader>.fromOpaque(userdata).release()
            },
            reader
        )
        if code != CURLE_OK {
            // libcurl did not take the reader, so its free callback will not run.
            Unmanaged<UploadFileReader>.fromOpaque(reader).release()
        }
        return code
    }
}
