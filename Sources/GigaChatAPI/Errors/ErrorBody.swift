import Foundation
import GigaChatProtocol

/// Turns an error response body into one clean line for a person.
///
/// The API answers `{"status","message"}`, the OAuth host `{"code","message"}`, and gateways an HTML page
/// (SynGX 502, SOWA 500): a client should read "Bad Gateway", not a page of markup.
public enum ErrorBody {
    public static let maxMessageLength = 300

    public static func message(status: Int, body: [UInt8]) -> String {
        if let json = try? JSONValue(parsing: body) {
            if let message = json["message"]?.stringValue, !message.isEmpty {
                if let code = json["code"]?.intValue, json["status"] == nil {
                    return clip("\(message) (code \(code))")
                }
                return clip(message)
            }
            if let message = json["error"]?.stringValue ?? json["error"]?["message"]?.stringValue, !message.isEmpty {
                return clip(message)
            }
        }
        let text = String(decoding: body, as: UTF8.self)
        if text.contains("<") {
            if let title = between(text, "<title>", "</title>") ?? between(text, "<h1>", "</h1>") {
                let cleaned = collapse(stripTags(title))
                if !cleaned.isEmpty { return clip(cleaned) }
            }
            let cleaned = collapse(stripTags(text))
            if !cleaned.isEmpty, cleaned.count < 120 { return clip(cleaned) }
            return reasonPhrase(status)
        }
        let cleaned = collapse(text)
        return cleaned.isEmpty ? reasonPhrase(status) : clip(cleaned)
    }

    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 402: return "Payment Required"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 413: return "Payload Too Large"
        case 422: return "Unprocessable Entity"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "HTTP \(status)"
        }
    }

    private static func between(_ text: String, _ open: String, _ close: String) -> String? {
        guard let start = text.range(of: open, options: .caseInsensitive),
            let end = text.range(of: close, options: .caseInsensitive, range: start.upperBound..<text.endIndex)
        else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    private static func stripTags(_ text: String) -> String {
        var output = ""
        var inTag = false
        for character in text {
            if character == "<" {
                inTag = true
                output.append(" ")
                continue
            }
            if character == ">" {
                inTag = false
                continue
            }
            if !inTag { output.append(character) }
        }
        return output
    }

    private static func collapse(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// One line, no control characters (the API's text reaches logs and terminals), at most
    /// `maxMessageLength` characters.
    private static func clip(_ text: String) -> String {
        let line = ControlCharacters.oneLine(text)
        return line.count > maxMessageLength ? String(line.prefix(maxMessageLength)) + "…" : line
    }
}
