import GigaChatProtocol

/// An access token and when it stops working.
public struct AccessToken: Sendable, Equatable {
    public var value: Secret
    /// Epoch milliseconds; 0 means "unknown, use until the API says 401" (a pre-issued token).
    public var expiresAtMilliseconds: Int64
    /// Epoch milliseconds when we received it.
    public var receivedAtMilliseconds: Int64

    public init(value: Secret, expiresAtMilliseconds: Int64, receivedAtMilliseconds: Int64) {
        self.value = value
        self.expiresAtMilliseconds = expiresAtMilliseconds
        self.receivedAtMilliseconds = receivedAtMilliseconds
    }

    /// When to replace it: `buffer` before expiry, but never earlier than half its lifetime, so a
    /// short-lived token is not refreshed on every request.
    public func refreshAtMilliseconds(buffer: Int64) -> Int64? {
        guard expiresAtMilliseconds > 0 else { return nil }
        let lifetime = max(0, expiresAtMilliseconds - receivedAtMilliseconds)
        return expiresAtMilliseconds - min(buffer, lifetime / 2)
    }

    public func isUsable(nowMilliseconds: Int64, buffer: Int64) -> Bool {
        guard let refreshAt = refreshAtMilliseconds(buffer: buffer) else { return true }
        return nowMilliseconds < refreshAt
    }

    /// Reads an OAuth or /token response: {"access_token","expires_at"} or {"tok","exp"}.
    ///
    /// `exp` is seconds or milliseconds depending on the deployment: below 10^12 it is seconds.
    /// The longest lifetime believed: a year.
    static let maxLifetimeMilliseconds: Int64 = 365 * 24 * 3600 * 1000

    public static func parse(_ body: [UInt8], nowMilliseconds: Int64) throws(APIError) -> AccessToken {
        guard let json = try? JSONValue(parsing: body), case .object(let object) = json else {
            throw APIError(.malformed, "the token endpoint answered with something that is not a JSON object")
        }
        guard let token = (object["access_token"] ?? object["tok"])?.stringValue, !token.isEmpty else {
            throw APIError(.malformed, "the token endpoint's answer has no access_token or tok")
        }
        guard let expiry = (object["expires_at"] ?? object["exp"])?.intValue, expiry > 0 else {
            throw APIError(.malformed, "the token endpoint's answer has no usable expires_at or exp")
        }
        // An expiry decades ahead is nonsense; clamping it keeps every later sum and sleep far from overflow.
        let milliseconds = min(expiry < 1_000_000_000_000 ? expiry * 1000 : expiry, nowMilliseconds &+ maxLifetimeMilliseconds)
        return AccessToken(value: Secret(token), expiresAtMilliseconds: milliseconds, receivedAtMilliseconds: nowMilliseconds)
    }
}
