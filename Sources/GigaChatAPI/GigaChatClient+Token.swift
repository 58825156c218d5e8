import CurlHTTP
import Foundation
import GigaChatProtocol
import Logging

/// Fetching an access token: the OAuth endpoint with the authorization key, or `/token` with a user and
/// password.
extension GigaChatClient {
    static func oauthRequest(configuration: Configuration, key: Secret, tls: TLSOptions) -> HTTPRequest {
        let scope = PercentEncoding.encode(configuration.scope, keeping: APIPath.unreservedBytes)
        return HTTPRequest(
            method: .post,
            url: configuration.authURL,
            headers: [
                // The OAuth endpoint wants Basic with the key as issued, not Bearer.
                ("Authorization", "Basic \(key.exposedValue)"),
                ("RqUID", UUID().uuidString.lowercased()),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json"),
                ("User-Agent", Configuration.userAgent),
            ],
            body: .bytes(Array("scope=\(scope)".utf8)),
            tls: tls,
            timeoutSeconds: configuration.timeoutSeconds
        )
    }

    static func passwordRequest(configuration: Configuration, user: String, password: Secret, tls: TLSOptions) -> HTTPRequest {
        let basic = Data("\(user):\(password.exposedValue)".utf8).base64EncodedString()
        return HTTPRequest(
            method: .post,
            url: configuration.passwordTokenURL,
            headers: [
                ("Authorization", "Basic \(basic)"),
                ("Accept", "application/json"),
                ("User-Agent", Configuration.userAgent),
            ],
            body: .bytes([]),
            tls: tls,
            timeoutSeconds: configuration.timeoutSeconds
        )
    }

    static func fetchToken(engine: CurlEngine, request: HTTPRequest, what: String) async throws(APIError) -> AccessToken {
        var request = request
        if let index = request.headers.firstIndex(where: { $0.name == "RqUID" }) {
            request.headers[index].value = UUID().uuidString.lowercased()  // a fresh one per call, as required
        }
        var iterator = engine.perform(request).makeAsyncIterator()
        do {
            guard case .head(let head)? = try await iterator.next() else {
                throw APIError(.malformed, "the \(what) closed the connection without a response")
            }
            let body = try await readBody(&iterator, limit: maxErrorBodyBytes)
            guard head.status == 200 else {
                let message = ErrorBody.message(status: head.status, body: body)
                if head.status == 404, request.url.hasSuffix("/token") {
                    throw APIError(
                        .http,
                        "\(request.url) does not exist: password auth (GIGACHAT_USER/GIGACHAT_PASSWORD) needs the older API host, "
                            + "GIGACHAT_BASE_URL=\(Configuration.legacyBaseURL)",
                        status: head.status
                    )
                }
                if head.status == 401 || head.status == 403 {
                    throw APIError(
                        .authentication,
                        "the \(what) rejected the credentials: \(message) (check GIGACHAT_CREDENTIALS and GIGACHAT_SCOPE)",
                        status: head.status
                    )
                }
                throw APIError(.http, "the \(what) failed: \(message)", status: head.status)
            }
            return try AccessToken.parse(body, nowMilliseconds: TokenManager.nowMilliseconds())
        } catch let error as APIError {
            throw error
        } catch let error as CurlError {
            if error.kind == .cancelled { throw APIError(.cancelled, "token request cancelled") }
            var apiError = transportError(error, timeoutSeconds: request.timeoutSeconds)
            apiError.message = "cannot get an access token from the \(what) (\(request.url)): \(apiError.message)"
            throw apiError
        } catch {
            throw APIError(.malformed, "unexpected failure fetching a token: \(error)")
        }
    }
}
