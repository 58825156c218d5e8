import GigaChatProtocol

extension Configuration {
    /// The configuration the GIGACHAT_* values describe; keys it does not own are ignored.
    public init(values: SettingValues) throws(ConfigurationError) {
        self.init()
        credentials = values.string(Key.credentials.rawValue).map(Secret.init)
        if let value = values.string(Key.scope.rawValue) {
            // A wrong scope fails every OAuth call the same way; refusing it at start says so once.
            guard Self.scopes.contains(value) else {
                throw ConfigurationError("GIGACHAT_SCOPE must be one of \(Self.scopes.joined(separator: ", ")), got \"\(value)\"")
            }
            scope = value
        }
        if let value = try values.url(Key.authURL.rawValue) { authURL = value }
        if let value = try values.url(Key.baseURL.rawValue) { baseURL = value }
        accessToken = values.string(Key.accessToken.rawValue).map(Secret.init)
        user = values.string(Key.user.rawValue)
        password = values.string(Key.password.rawValue).map(Secret.init)
        if let value = values.string(Key.model.rawValue) { model = value }
        profanityCheck = try values.boolean(Key.profanityCheck.rawValue)
        if let value = try values.number(Key.timeout.rawValue, Limits.timeoutSeconds) { timeoutSeconds = value }
        if try values.boolean(Key.verifySSLCerts.rawValue) == false {
            throw ConfigurationError(
                "GIGACHAT_VERIFY_SSL_CERTS=false is not supported: gigachatd always verifies TLS certificates. "
                    + "Trust an extra CA with GIGACHAT_CA_BUNDLE_FILE instead."
            )
        }
        caBundleFile = values.string(Key.caBundleFile.rawValue)
        certFile = values.string(Key.certFile.rawValue)
        keyFile = values.string(Key.keyFile.rawValue)
        keyFilePassword = values.string(Key.keyFilePassword.rawValue).map(Secret.init)
        if (certFile == nil) != (keyFile == nil) {
            throw ConfigurationError("GIGACHAT_CERT_FILE and GIGACHAT_KEY_FILE must be set together")
        }
        if let text = values.string(Key.flags.rawValue) {
            guard case .array(let items)? = try? JSONValue(parsing: text),
                let strings = Optional(items.compactMap(\.stringValue)), strings.count == items.count
            else {
                throw ConfigurationError("GIGACHAT_FLAGS must be a JSON list of strings, got \"\(text)\"")
            }
            flags = strings
        }
        maxConnections = try values.integer(Key.maxConnections.rawValue, Limits.maxConnections)
        if let value = try values.integer(Key.maxRetries.rawValue, Limits.maxRetries) { maxRetries = value }
        if let value = try values.number(Key.retryBackoffFactor.rawValue, Limits.retryBackoffFactor) { retryBackoffFactor = value }
        if let text = values.string(Key.retryOnStatusCodes.rawValue) {
            guard case .array(let items)? = try? JSONValue(parsing: text) else {
                throw ConfigurationError("GIGACHAT_RETRY_ON_STATUS_CODES must be a JSON list such as [429,503], got \"\(text)\"")
            }
            var codes = Set<Int>()
            for item in items {
                guard let code = item.intValue, (100...599).contains(code) else {
                    throw ConfigurationError("GIGACHAT_RETRY_ON_STATUS_CODES must list HTTP status codes, got \"\(text)\"")
                }
                codes.insert(Int(code))
            }
            retryOnStatusCodes = codes
        }
        if let value = try values.integer(Key.tokenExpiryBufferMs.rawValue, Limits.tokenExpiryBufferMilliseconds) {
            tokenExpiryBufferMilliseconds = Int64(value)
        }
        if (user == nil) != (password == nil), accessToken == nil, credentials == nil {
            throw ConfigurationError("GIGACHAT_USER and GIGACHAT_PASSWORD must be set together")
        }
    }
}
