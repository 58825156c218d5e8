/// Rejects requests whose strings would be cut short at a NUL by C, or could smuggle extra header lines.
enum RequestValidator {
    static func validate(_ request: HTTPRequest) throws(CurlError) {
        guard request.timeoutSeconds.isFinite, request.timeoutSeconds > 0, request.timeoutSeconds < 1_000_000 else {
            throw .invalidRequest("timeoutSeconds must be a positive number of seconds, got \(request.timeoutSeconds)")
        }
        try requireClean(request.url, "URL")
        for header in request.headers {
            try requireClean(header.name, "header name")
            try requireClean(header.value, "value of header \(header.name)")
            let separators: Set<UInt8> = [UInt8(ascii: ":"), UInt8(ascii: " "), UInt8(ascii: "\t")]
            guard !header.name.isEmpty, !header.name.utf8.contains(where: separators.contains) else {
                throw .invalidRequest("invalid header name \"\(header.name)\"")
            }
        }
        if case .multipart(let parts) = request.body {
            for part in parts {
                try requireClean(part.name, "multipart name")
                if let filename = part.filename { try requireClean(filename, "multipart filename") }
                if let contentType = part.contentType { try requireClean(contentType, "multipart content type") }
            }
        }
        let tls = request.tls
        if let path = tls.clientCertificatePath { try requireClean(path, "client certificate path") }
        if let path = tls.clientKeyPath { try requireClean(path, "client key path") }
        if let password = tls.clientKeyPassword { try requireClean(password, "client key password") }
    }

    private static func requireClean(_ text: String, _ what: String) throws(CurlError) {
        if text.utf8.contains(where: { $0 == 0 || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) {
            throw .invalidRequest("\(what) contains NUL, CR or LF")
        }
    }
}
