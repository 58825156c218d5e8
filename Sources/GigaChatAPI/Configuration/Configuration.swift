import Foundation
import GigaChatProtocol

/// Every setting of the GigaChat API client, with its default and the URL of every endpoint; nothing else
/// in the code base names an API URL or an API default.
///
/// Keys are the official Python SDK's environment names (GIGACHAT_*). Where the values come from is the
/// daemon's business: it reads them and builds this with `init(values:)`.
public struct Configuration: Sendable {
    // MARK: Defaults (the real API)

    public static let defaultAuthURL = "https://ngw.devices.sberbank.ru:9443/api/v2/oauth"
    /// The official SDK's default since 0.2.3; the v2 chat URL is derived from it (see `v2ChatURL`).
    public static let defaultBaseURL = "https://api.giga.chat/v1"
    /// The older host, which still serves password auth (`/token`); the new one does not.
    public static let legacyBaseURL = "https://gigachat.devices.sberbank.ru/api/v1"
    public static let personalScope = "GIGACHAT_API_PERS"
    public static let defaultScope = personalScope
    /// The scopes an authorization key can belong to.
    public static let scopes = [personalScope, "GIGACHAT_API_B2B", "GIGACHAT_API_CORP"]
    public static let defaultModel = "GigaChat"
    public static let defaultTimeoutSeconds = 30.0
    public static let defaultTokenExpiryBufferMilliseconds: Int64 = 60_000
    /// PERS keys may run one request at a time; business keys ten (API "quotas and limits" page).
    public static let personalMaxConnections = 1
    public static let businessMaxConnections = 10
    public static let defaultMaxRetries = 3
    public static let defaultRetryBackoffFactor = 0.5
    public static let defaultRetryOnStatusCodes: Set<Int> = [429, 500, 502, 503, 504]
    /// Longest Retry-After (seconds) the daemon waits out on a 429 before giving the client an error.
    public static let defaultMaxRetryAfterSeconds = 30.0

    /// The accepted range of every numeric setting (docs/RELIABILITY.md lists them).
    public enum Limits {
        public static let timeoutSeconds: ClosedRange<Double> = 0.001...3600
        public static let maxConnections: ClosedRange<Int> = 1...100
        public static let maxRetries: ClosedRange<Int> = 0...10
        public static let retryBackoffFactor: ClosedRange<Double> = 0...60
        public static let tokenExpiryBufferMilliseconds: ClosedRange<Int> = 0...3_600_000
        public static let maxRetryAfterSeconds: ClosedRange<Double> = 0...3600
    }
    /// Where Debian, Ubuntu, Fedora and friends keep the system trust store.
    public static let systemCABundlePaths = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
    ]
    public static let userAgent = "gigachatd/\(GigaChatDVersion.current)"

    /// Every key the configuration understands.
    public enum Key: String, CaseIterable, Sendable {
        case credentials = "GIGACHAT_CREDENTIALS"
        case scope = "GIGACHAT_SCOPE"
        case baseURL = "GIGACHAT_BASE_URL"
        case authURL = "GIGACHAT_AUTH_URL"
        case accessToken = "GIGACHAT_ACCESS_TOKEN"
        case user = "GIGACHAT_USER"
        case password = "GIGACHAT_PASSWORD"
        case model = "GIGACHAT_MODEL"
        case profanityCheck = "GIGACHAT_PROFANITY_CHECK"
        case timeout = "GIGACHAT_TIMEOUT"
        case verifySSLCerts = "GIGACHAT_VERIFY_SSL_CERTS"
        case caBundleFile = "GIGACHAT_CA_BUNDLE_FILE"
        case certFile = "GIGACHAT_CERT_FILE"
        case keyFile = "GIGACHAT_KEY_FILE"
        case keyFilePassword = "GIGACHAT_KEY_FILE_PASSWORD"
        case flags = "GIGACHAT_FLAGS"
        case maxConnections = "GIGACHAT_MAX_CONNECTIONS"
        case maxRetries = "GIGACHAT_MAX_RETRIES"
        case retryBackoffFactor = "GIGACHAT_RETRY_BACKOFF_FACTOR"
        case retryOnStatusCodes = "GIGACHAT_RETRY_ON_STATUS_CODES"
        case tokenExpiryBufferMs = "GIGACHAT_TOKEN_EXPIRY_BUFFER_MS"
    }

    /// How the daemon proves who it is to the API.
    public enum Authentication: Sendable, Equatable {
        /// A pre-issued access token, used until the API says 401.
        case accessToken(Secret)
        /// The authorization key, traded at the OAuth endpoint.
        case authorizationKey(Secret)
        /// User and password, traded at {base_url}/token.
        case password(user: String, password: Secret)
        /// No token at all: a client certificate (mTLS), or nothing configured.
        case none
    }

    // MARK: Settings

    public var credentials: Secret?
    public var scope = defaultScope
    public var authURL = defaultAuthURL
    public var baseURL = defaultBaseURL
    public var accessToken: Secret?
    public var user: String?
    public var password: Secret?
    public var model = defaultModel
    public var profanityCheck: Bool?
    public var timeoutSeconds = defaultTimeoutSeconds
    public var caBundleFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var keyFilePassword: Secret?
    public var flags: [String]?
    /// Requests run upstream at once; nil means "by scope" (see `effectiveMaxConnections`).
    public var maxConnections: Int?
    public var maxRetries = defaultMaxRetries
    public var retryBackoffFactor = defaultRetryBackoffFactor
    public var retryOnStatusCodes = defaultRetryOnStatusCodes
    public var tokenExpiryBufferMilliseconds = defaultTokenExpiryBufferMilliseconds
    /// The longest Retry-After waited out. Not a GIGACHAT_* setting: whoever runs the client sets it.
    public var maxRetryAfterSeconds = defaultMaxRetryAfterSeconds

    public init() {}

    public var authentication: Authentication {
        if let accessToken { return .accessToken(accessToken) }
        if let credentials { return .authorizationKey(credentials) }
        if let user, let password { return .password(user: user, password: password) }
        return .none
    }

    /// Everything a token depends on: how it is fetched and over which TLS. A reload that leaves this
    /// unchanged keeps the current token instead of fetching a new one.
    public struct TokenSource: Equatable, Sendable {
        var authentication: Authentication
        var scope: String
        var authURL: String
        var baseURL: String
        var caBundleFile: String?
        var certFile: String?
        var keyFile: String?
        var keyFilePassword: Secret?
    }

    public var tokenSource: TokenSource {
        TokenSource(
            authentication: authentication, scope: scope, authURL: authURL, baseURL: baseURL,
            caBundleFile: caBundleFile, certFile: certFile, keyFile: keyFile, keyFilePassword: keyFilePassword
        )
    }

    public var effectiveMaxConnections: Int {
        if let maxConnections { return maxConnections }
        return scope == Configuration.personalScope ? Configuration.personalMaxConnections : Configuration.businessMaxConnections
    }

    /// The password-auth endpoint, which lives on the API host.
    public var passwordTokenURL: String { url(path: APIPath.token) }

    /// The v2 chat URL, derived as the SDK derives it: the base path's trailing `/vN` becomes
    /// `/v2/chat/completions` on the same origin (`…/api/v1` → `…/api/v2/chat/completions`,
    /// `…/v1` → `…/v2/chat/completions`).
    public var v2ChatURL: String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if let slash = base.lastIndex(of: "/") {
            let last = base[base.index(after: slash)...]
            if last.count > 1, last.first == "v", last.dropFirst().allSatisfy(\.isNumber) {
                return base[..<slash] + "/v2/chat/completions"
            }
        }
        return base + "/v2/chat/completions"
    }

    /// The URL of an API path relative to the v1 base (`/chat/completions`).
    public func url(path: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + (path.hasPrefix("/") ? path : "/" + path)
    }
}
