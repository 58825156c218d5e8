internal import CCurl

/// The engine-thread side of one transfer: the easy handle, everything libcurl borrows for its lifetime,
/// and the bookkeeping the callbacks update.
///
/// Confined to the engine thread (created, called back and disposed there), hence not `Sendable`.
final class EasyTransfer {
    let state: TransferState
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var mime: OpaquePointer?
    /// CURLOPT_ERRORBUFFER; libcurl writes into it until the handle is cleaned up.
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// The +1 reference handed to libcurl as callback userdata; released in `dispose()`.
    private var retainedForCallbacks: Unmanaged<EasyTransfer>?

    private var headParser = ResponseHeadParser()
    private var headDelivered = false
    /// Silence is only measured once a connection is ready, so waiting for a free connection slot
    /// (CURLMOPT_MAX_HOST_CONNECTIONS) is not mistaken for a silent server; connecting is bounded by libcurl.
    private(set) var silenceArmed = false
    private(set) var lastActivity: ContinuousClock.Instant
    private var uploadedBytes: curl_off_t = 0
    let silenceLimit: Duration

    private init(state: TransferState, easy: UnsafeMutableRawPointer) {
        self.state = state
        self.easy = easy
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        self.lastActivity = .now
        let millis = state.request.timeoutSeconds * 1000
        self.silenceLimit = .milliseconds(Int64(millis.rounded(.up)))
    }

    /// Creates and fully configures the easy handle; on failure nothing is leaked.
    static func make(for state: TransferState, caFiles: CAFileCache) throws(CurlError) -> EasyTransfer {
        try RequestValidator.validate(state.request)
        guard let easy = curl_easy_init() else {
            throw CurlError(curlCode: CURLE_FAILED_INIT, detail: "curl_easy_init failed")
        }
        let transfer = EasyTransfer(state: state, easy: easy)
        do {
            try transfer.configure(caFiles: caFiles)
        } catch {
            transfer.dispose()
            throw error
        }
        return transfer
    }

    /// Frees the handle and what it borrowed. The handle must no longer be in the multi handle.
    func dispose() {
        curl_easy_cleanup(easy)
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
        if let mime { curl_mime_free(mime) }
        mime = nil
        errorBuffer.deallocate()
        retainedForCallbacks?.release()
        retainedForCallbacks = nil
    }

    /// The error for a libcurl result, with the transfer-specific detail from the error buffer.
    func error(for code: CURLcode) -> CurlError {
        CurlError(curlCode: code, detail: String(cString: errorBuffer))
    }

    /// Marks the transfer as active at the moment of unpausing; the pause itself was our doing, not silence.
    func noteUnpaused() {
        lastActivity = .now
    }

    /// Ensures the consumer gets a head even for responses whose header block was never seen as final.
    func completeHead() {
        guard !headDelivered else { return }
        headDelivered = true
        var code = 0
        let rc = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        let status = rc == CURLE_OK ? code : 0
        state.deliverHead(HTTPResponseHead(status: status, headers: headParser.currentHeaders))
    }

    // MARK: Configuration

    private func configure(caFiles: CAFileCache) throws(CurlError) {
        let request = state.request
        let userdata = Unmanaged.passRetained(self)
        retainedForCallbacks = userdata
        let opaque = userdata.toOpaque()

        try check(ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        try check(ccurl_easy_setopt_string(easy, CURLOPT_URL, request.url), "CURLOPT_URL")
        try check(ccurl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "https,http"), "CURLOPT_PROTOCOLS_STR")
        try setLong(CURLOPT_FOLLOWLOCATION, 0)
        try setLong(CURLOPT_NOSIGNAL, 1)
        try setLong(CURLOPT_TCP_KEEPALIVE, 1)
        // HTTP/1.1 keeps "abort = close the connection" true (with HTTP/2 an aborted stream leaves the
        // connection up), and lets pausing push back on the server through TCP.
        try setLong(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1)
        // Proxy CONNECT responses would otherwise reach the header callback looking like the final response.
        try setLong(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
        try setLong(CURLOPT_CONNECTTIMEOUT_MS, max(1, Int((request.timeoutSeconds * 1000).rounded(.up))))

        try configureTLS(request.tls, caFiles: caFiles)
        try configureHeaders(request.headers)
        try configureBody(method: request.method, body: request.body)

        try check(
            ccurl_easy_set_write_callback(
                easy,
                { data, size, count, userdata in
                    guard let userdata else { return 0 }
                    let transfer = Unmanaged<EasyTransfer>.fromOpaque(userdata).takeUnretainedValue()
                    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
                },
                opaque
            ),
            "CURLOPT_WRITEFUNCTION"
        )
        try check(
            ccurl_easy_set_header_callback(
                easy,
                { data, size, count, userdata in
                    guard let userdata else { return 0 }
                    let transfer = Unmanaged<EasyTransfer>.fromOpaque(userdata).takeUnretainedValue()
                    return transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
                },
                opaque
            ),
            "CURLOPT_HEADERFUNCTION"
        )
        try check(
            ccurl_easy_set_xferinfo_callback(
                easy,
                { userdata, _, _, _, uploaded in
                    guard let userdata else { return 0 }
                    Unmanaged<EasyTransfer>.fromOpaque(userdata).takeUnretainedValue().noteUploadProgress(uploaded)
                    return 0
                },
                opaque
            ),
            "CURLOPT_XFERINFOFUNCTION"
        )
        try check(
            ccurl_easy_set_prereq_callback(
                easy,
                { userdata, _, _, _, _ in
                    guard let userdata else { return CURL_PREREQFUNC_OK }
                    Unmanaged<EasyTransfer>.fromOpaque(userdata).takeUnretainedValue().connectionReady()
                    return CURL_PREREQFUNC_OK
                },
                opaque
            ),
            "CURLOPT_PREREQFUNCTION"
        )
    }

    private func configureTLS(_ tls: TLSOptions, caFiles: CAFileCache) throws(CurlError) {
        // The caller's bundle is the only trust: libcurl's compiled-in CA directory is dropped, and its
        // CA file is replaced by ours.
        try check(ccurl_easy_setopt_string(easy, CURLOPT_CAPATH, nil), "CURLOPT_CAPATH")
        if let path = caFiles.path(for: tls.caBundlePEM) {
            try check(ccurl_easy_setopt_string(easy, CURLOPT_CAINFO, path), "CURLOPT_CAINFO")
            try setLong(CURLOPT_CA_CACHE_TIMEOUT, 24 * 60 * 60)
        } else {
            try check(ccurl_easy_setopt_string(easy, CURLOPT_CAINFO, nil), "CURLOPT_CAINFO")
            let caSet = tls.caBundlePEM.withUnsafeBytes { pem in
                ccurl_easy_setopt_blob(easy, CURLOPT_CAINFO_BLOB, pem.baseAddress, pem.count)
            }
            try check(caSet, "CURLOPT_CAINFO_BLOB")
        }
        try setLong(CURLOPT_SSL_VERIFYPEER, 1)
        try setLong(CURLOPT_SSL_VERIFYHOST, 2)
        if let path = tls.clientCertificatePath {
            try check(ccurl_easy_setopt_string(easy, CURLOPT_SSLCERT, path), "CURLOPT_SSLCERT")
        }
        if let path = tls.clientKeyPath {
            try check(ccurl_easy_setopt_string(easy, CURLOPT_SSLKEY, path), "CURLOPT_SSLKEY")
        }
        if let password = tls.clientKeyPassword {
            try check(ccurl_easy_setopt_string(easy, CURLOPT_KEYPASSWD, password), "CURLOPT_KEYPASSWD")
        }
    }

    private func configureHeaders(_ headers: [(name: String, value: String)]) throws(CurlError) {
        guard !headers.isEmpty else { return }
        for header in headers {
            let line = "\(header.name): \(header.value)"
            guard let appended = curl_slist_append(headerList, line) else {
                throw CurlError(curlCode: CURLE_OUT_OF_MEMORY, detail: "curl_slist_append failed")
            }
            headerList = appended
        }
        try check(ccurl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, headerList), "CURLOPT_HTTPHEADER")
    }

    private func configureBody(method: HTTPRequest.Method, body: HTTPRequest.Body) throws(CurlError) {
        switch body {
        case .none:
            switch method {
            case .get:
                try setLong(CURLOPT_HTTPGET, 1)
            case .post:
                try check(ccurl_easy_set_postfields_copy(easy, nil, 0), "CURLOPT_COPYPOSTFIELDS")
            case .delete:
                try check(ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, "DELETE"), "CURLOPT_CUSTOMREQUEST")
            }
            return
        case .bytes(let bytes):
            let bodySet = bytes.withUnsafeBytes { raw in
                ccurl_easy_set_postfields_copy(easy, raw.baseAddress, raw.count)
            }
            try check(bodySet, "CURLOPT_COPYPOSTFIELDS")
        case .multipart(let parts):
            try configureMultipart(parts)
        }
        // A body makes libcurl send POST; other methods with a body keep their own name on the request line.
        if method != .post {
            try check(ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method.rawValue), "CURLOPT_CUSTOMREQUEST")
        }
    }

    private func configureMultipart(_ parts: [MultipartPart]) throws(CurlError) {
        guard let mime = curl_mime_init(easy) else {
            throw CurlError(curlCode: CURLE_OUT_OF_MEMORY, detail: "curl_mime_init failed")
        }
        self.mime = mime
        for part in parts {
            guard let handle = curl_mime_addpart(mime) else {
                throw CurlError(curlCode: CURLE_OUT_OF_MEMORY, detail: "curl_mime_addpart failed")
            }
            try check(curl_mime_name(handle, part.name), "curl_mime_name")
            if let filename = part.filename {
                try check(curl_mime_filename(handle, filename), "curl_mime_filename")
            }
            if let contentType = part.contentType {
                try check(curl_mime_type(handle, contentType), "curl_mime_type")
            }
            switch part.content {
            case .bytes(let data) where data.isEmpty:
                // A NULL pointer would mean "no data source", not "empty data".
                try check(curl_mime_data(handle, "", 0), "curl_mime_data")
            case .bytes(let data):
                // curl_mime_data copies the bytes.
                let dataSet = data.withUnsafeBytes { raw in
                    curl_mime_data(handle, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
                }
                try check(dataSet, "curl_mime_data")
            case .file(let file):
                try check(UploadFileReader.attach(file, to: handle), "curl_mime_data_cb")
            }
        }
        try check(ccurl_easy_setopt_pointer(easy, CURLOPT_MIMEPOST, UnsafeMutableRawPointer(mime)), "CURLOPT_MIMEPOST")
    }

    private func setLong(_ option: CURLoption, _ value: Int) throws(CurlError) {
        try check(ccurl_easy_setopt_long(easy, option, value), "option \(option.rawValue)")
    }

    private func check(_ code: CURLcode, _ what: @autoclosure () -> String) throws(CurlError) {
        guard code == CURLE_OK else {
            throw CurlError(curlCode: code, detail: "setting \(what()) failed")
        }
    }

    // MARK: Callbacks (engine thread, inside libcurl)

    private func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        lastActivity = .now
        if !headDelivered { completeHead() }
        switch state.offerBody(bytes) {
        case .accepted:
            return bytes.count
        case .pause:
            return ccurl_writefunc_pause()
        case .abort:
            // Any count other than the one offered makes libcurl fail the transfer with CURLE_WRITE_ERROR.
            return bytes.count == 0 ? 1 : 0
        }
    }

    private func receiveHeaderLine(_ line: UnsafeRawBufferPointer) -> Int {
        lastActivity = .now
        // Lines after the final head are trailers; they are not part of the head the consumer already has.
        if !headDelivered, let head = headParser.consume(line) {
            headDelivered = true
            state.deliverHead(head)
        }
        return line.count
    }

    private func noteUploadProgress(_ uploaded: curl_off_t) {
        if uploaded != uploadedBytes {
            uploadedBytes = uploaded
            lastActivity = .now
        }
    }

    private func connectionReady() {
        silenceArmed = true
        lastActivity = .now
    }
}
