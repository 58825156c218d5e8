import Foundation
import GigaChatProtocol

/// Every setting of gigachatd, with its default and the URL of every endpoint; nothing else in the code
/// base names a URL or a default.
///
/// Keys are the official Python SDK's environment names (GIGACHAT_*), plus GIGACHATD_* for settings only
/// the daemon has. Values come from, strongest first: command-line flags, the environment, the
/// credentials directory systemd passes (for secrets), the KEY=VALUE config file.
public struct Configuration: Sendable {
    // MARK: Defaults (the real API)

    public static let defaultAuthURL = "https://ngw.devices.sberbank.ru:9443/api/v2/oauth"
    public static let defaultBaseURL = "https://gigachat.devices.sberbank.ru/api/v1"
    public static let personalScope = "GIGACHAT_API_PERS"
    public static let defaultScope = personalScope
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
    public static let defaultDrainTimeoutSeconds = 30.0
    /// Where Debian, Ubuntu, Fedora and friends keep the system trust store.
    public static let systemCABundlePaths = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
    ]
    public static let userAgent = "gigachatd/\(GigaChatDVersion.current)"

    /// Names of the files in $CREDENTIALS_DIRECTORY (systemd LoadCredential=) and the keys they set.
    public static let credentialFiles: [(file: String, key: Key)] = [
        ("gigachat-credentials", .credentials),
        ("gigachat-password", .password),
        ("gigachat-access-token", .accessToken),
        ("gigachat-key-file-password", .keyFilePassword),
    ]

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
        // Daemon-only settings.
        case socket = "GIGACHATD_SOCKET"
        case maxLineBytes = "GIGACHATD_MAX_LINE_BYTES"
        case drainTimeout = "GIGACHATD_DRAIN_TIMEOUT"
        case maxRetryAfter = "GIGACHATD_MAX_RETRY_AFTER"

        /// Keys whose values are secrets and are never echoed back.
        public var isSecret: Bool {
            switch self {
            case .credentials, .password, .accessToken, .keyFilePassword: return true
            default: return false
            }
        }
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
    public var socket: SocketPath
    public var maxLineBytes = ProtocolDefaults.maxLineBytes
    public var drainTimeoutSeconds = defaultDrainTimeoutSeconds
    public var maxRetryAfterSeconds = defaultMaxRetryAfterSeconds
    /// The config file that was read, if any.
    public var configFile: String?
    /// Where daemon-kept state (conversations) lives: $XDG_STATE_HOME/gigachat.
    public var stateDirectory = Configuration.stateDirectory(environment: [:])

    public init(socket: SocketPath) {
        self.socket = socket
    }

    public var authentication: Authentication {
        if let accessToken { return .accessToken(accessToken) }
        if let credentials { return .authorizationKey(credentials) }
        if let user, let password { return .password(user: user, password: password) }
        return .none
    }

    /// Whether a refresh is possible after the API rejects the token.
    public var canRefreshToken: Bool { credentials != nil || (user != nil && password != nil) }

    public var effectiveMaxConnections: Int {
        if let maxConnections { return maxConnections }
        return scope == Configuration.personalScope ? Configuration.personalMaxConnections : Configuration.businessMaxConnections
    }

    /// The password-auth endpoint, which lives on the API host.
    public var passwordTokenURL: String { url(path: "/token") }

    /// The URL of an API path relative to the v1 base (`/chat/completions`).
    public func url(path: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + (path.hasPrefix("/") ? path : "/" + path)
    }
}

/// The daemon's version, reported by `status` and sent in User-Agent.
public enum GigaChatDVersion {
    public static let current = "0.1.0"
}
