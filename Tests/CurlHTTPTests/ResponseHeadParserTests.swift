import Testing

@testable import CurlHTTP

/// Header-line parsing, fed exactly as libcurl's header callback delivers lines.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct ResponseHeadParserTests {
    private func feed(_ lines: [String]) -> [HTTPResponseHead] {
        var parser = ResponseHeadParser()
        var heads: [HTTPResponseHead] = []
        for line in lines {
            let bytes = Array(line.utf8)
            if let head = bytes.withUnsafeBytes({ parser.consume($0) }) { heads.append(head) }
        }
        return heads
    }

    @Test func interimHeadsAreDroppedAndTheFinalOneKept() {
        let heads = feed([
            "HTTP/1.1 100 Continue\r\n", "\r\n",
            "HTTP/1.1 201 Created\r\n", "Location: /x\r\n", "X-Mixed-Case:   padded value \t\r\n", "\r\n",
        ])
        #expect(heads.count == 1)
        #expect(heads.first?.status == 201)
        #expect(heads.first?.header("location") == "/x")
        #expect(heads.first?.header("x-mixed-case") == "padded value")
        #expect(heads.first?.headers.map(\.name) == ["Location", "X-Mixed-Case"])
    }

    @Test func foldedHeaderLinesAreJoined() {
        let heads = feed(["HTTP/2 200\r\n", "X-Long: first\r\n", "\tsecond\r\n", "\r\n"])
        #expect(heads.first?.status == 200)
        #expect(heads.first?.header("X-LONG") == "first second")
    }

    @Test func headerLookupIsCaseInsensitiveAndReturnsTheFirst() {
        let head = HTTPResponseHead(status: 200, headers: [(name: "Set-Cookie", value: "a"), (name: "set-cookie", value: "b")])
        #expect(head.header("SET-COOKIE") == "a")
        #expect(head.header("Set-Cookie2") == nil)
    }
}
