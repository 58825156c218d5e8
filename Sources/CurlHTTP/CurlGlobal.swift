internal import CCurl

/// Runs `curl_global_init` exactly once per process; it is not thread-safe, a `static let` initialiser is.
enum CurlGlobal {
    private static let initResult: CURLcode = ccurl_global_init()

    static func ensureInitialized() throws(CurlError) {
        let code = initResult
        guard code == CURLE_OK else {
            throw CurlError(
                curlCode: code,
                detail: "curl_global_init failed (libcurl 7.85.0 or newer with TLS is required)"
            )
        }
    }
}
