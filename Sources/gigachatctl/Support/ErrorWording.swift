/// Turns an error message from the daemon into one plain sentence for a person.
///
/// The daemon passes on libcurl's text, which repeats itself: "cannot reach GigaChat: Couldn't connect
/// to server: Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server". libcurl's
/// generic phrase for an error code says less than the detail next to it, so it is dropped when a
/// detail is there, and so is any repeated part. What the client says about a partial reply it says
/// itself, once, so the daemon's own remark about it is dropped too.
enum ErrorWording {
    /// curl_easy_strerror() texts that come with a more specific detail.
    static let libcurlGeneric: Set<String> = [
        "Couldn't resolve proxy name", "Couldn't resolve host name", "Couldn't connect to server",
        "Weird server reply", "Failure when receiving data from the peer", "Failed sending data to the peer",
        "Timeout was reached", "SSL connect error", "SSL peer certificate or SSH remote key was not OK",
        "Problem with the local SSL certificate", "Problem with the SSL CA cert (path? access rights?)",
        "Server returned nothing (no headers, no data)", "Transferred a partial file",
        "Stream error in the HTTP/2 framing layer", "Error in the HTTP2 framing layer",
        "Operation was aborted by an application callback", "Failed to shut down the SSL connection",
        "HTTP response code said error", "Unrecoverable error in select/poll",
    ]

    static func clean(_ message: String) -> String {
        let clauses = split(message, by: "; ")
        var kept: [String] = []
        for (index, clause) in clauses.enumerated() {
            if index > 0, isPartialRemark(clause) { continue }
            kept.append(cleanClause(clause))
        }
        return kept.joined(separator: "; ")
    }

    /// "the text so far is partial", "the reply above is incomplete": said by the client instead.
    private static func isPartialRemark(_ clause: String) -> Bool {
        clause.hasSuffix("is partial") || clause.hasSuffix("is incomplete")
    }

    private static func cleanClause(_ clause: String) -> String {
        let segments = split(clause, by: ": ")
        guard segments.count > 2 || (segments.count == 2 && segments[0] == segments[1]) else { return clause }
        var rest: [String] = []
        for segment in segments.dropFirst() where !rest.contains(segment) && segment != segments[0] {
            rest.append(segment)
        }
        let specific = rest.filter { !libcurlGeneric.contains($0) }
        if !specific.isEmpty { rest = specific }
        return ([segments[0]] + rest).joined(separator: ": ")
    }

    private static func split(_ text: String, by separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(text)
        while let range = rest.firstRange(of: separator) {
            parts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}
