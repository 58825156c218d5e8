/// Assembles response heads from the lines libcurl's header callback delivers, dropping 1xx interim heads.
struct ResponseHeadParser {
    private var status: Int?
    private(set) var currentHeaders: [(name: String, value: String)] = []

    /// Feeds one header line (with its line ending); returns the head when a final one is complete.
    mutating func consume(_ raw: UnsafeRawBufferPointer) -> HTTPResponseHead? {
        var line = Substring(String(decoding: raw, as: UTF8.self))
        while let last = line.last, last == "\r" || last == "\n" || last == "\r\n" {
            line = line.dropLast()
        }
        if line.isEmpty {
            guard let status else { return nil }
            self.status = nil
            let headers = currentHeaders
            currentHeaders = []
            // Interim responses (100 Continue, 103 Early Hints) precede the real one on the same request.
            if (100..<200).contains(status) { return nil }
            return HTTPResponseHead(status: status, headers: headers)
        }
        if line.hasPrefix("HTTP/") {
            status = Self.parseStatus(line) ?? 0
            currentHeaders = []
            return nil
        }
        if let first = line.first, first == " " || first == "\t" {
            // obs-fold: a continuation of the previous header's value.
            if let lastIndex = currentHeaders.indices.last {
                let continuation = Self.trimmed(line)
                let separator = currentHeaders[lastIndex].value.isEmpty ? "" : " "
                currentHeaders[lastIndex].value += separator + continuation
            }
            return nil
        }
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let name = String(line[..<colon])
        let value = Self.trimmed(line[line.index(after: colon)...])
        currentHeaders.append((name: name, value: value))
        return nil
    }

    private static func parseStatus(_ line: Substring) -> Int? {
        let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard fields.count >= 2 else { return nil }
        return Int(fields[1])
    }

    private static func trimmed(_ text: Substring) -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = text.firstIndex(where: { !isBlank($0) }),
            let end = text.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return String(text[start...end])
    }
}
