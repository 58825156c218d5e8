import GigaChatAPI
import GigaChatProtocol
import Logging
import NIOHTTP1

/// One request being answered: what came in, where the answer goes, and what it may use.
struct Exchange: Sendable {
    let request: IncomingRequest
    let response: ResponseWriter
    let control: RequestControl
    let client: GigaChatClient
    let settings: OpenAISettings
    let limits: OpenAISettings.Limits
    let services: Services
    let logger: Logger

    /// The body as a JSON object, or a 400 saying why not.
    func jsonObject() throws(OpenAIError) -> JSONObject {
        guard !request.body.isEmpty else { throw .invalid("the request needs a JSON body") }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: request.body)
        } catch {
            throw .invalid("the body is not valid JSON: \(error.description)")
        }
        guard case .object(let object) = value else { throw .invalid("the body must be a JSON object, got \(value.typeName)") }
        return object
    }

    /// The error a failed upstream call ends with: the daemon's own reason when it ended the request (its
    /// deadline, the drain), else the API's failure in OpenAI's terms.
    func failure(_ error: APIError) -> OpenAIError {
        switch control.ending {
        case .deadline?:
            let seconds = limits.requestTimeoutSeconds
            return OpenAIError(
                .gatewayTimeout,
                "the request did not finish within \(Durations.text(seconds: seconds)) (GIGACHATD_REQUEST_TIMEOUT)",
                type: "server_error", code: "timeout"
            )
        case .shutdown?:
            return OpenAIError(.serviceUnavailable, "gigachatd shut down before the request finished", type: "server_error", code: "shutting_down")
        case .clientLeft?, .clientStall?, nil:
            return .upstream(error)
        }
    }

    /// Sends `error` as the answer, if the answer has not begun; otherwise the connection closes after
    /// what was sent, so the client sees a cut-off body rather than a wrong one.
    func fail(_ error: OpenAIError, gigaChatShape: Bool = false) async {
        let response = self.response
        guard control.ending != .clientLeft, control.ending != .clientStall else {
            response.markMustClose()
            return
        }
        var headers: [(String, String)] = []
        if let retryAfter = error.retryAfter, retryAfter.isFinite, retryAfter >= 0, retryAfter < 86_400 {
            headers.append(("Retry-After", String(Int(retryAfter.rounded(.up)))))
        }
        let body: JSONValue =
            gigaChatShape
            ? ["status": .int(Int64(error.status.code)), "message": .string(error.message)]
            : error.json
        // A task of its own: NIO refuses writes from a cancelled task, and this one may have been (deadline).
        await Task {
            if response.headSent {
                response.markMustClose()
            } else {
                try? await response.sendJSON(error.status, body, headers: headers)
            }
        }.value
    }
}

/// What the endpoints share across requests.
final class Services: Sendable {
    let images = ImageCache()
    let models = ModelCatalog()

    init() {}
}
