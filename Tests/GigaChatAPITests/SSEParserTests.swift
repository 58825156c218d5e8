import Testing

@testable import GigaChatAPI

@Suite struct SSEParserTests {
    private func events(_ pieces: [[UInt8]]) throws -> [SSEEvent] {
        var parser = SSEParser()
        var all: [SSEEvent] = []
        for piece in pieces { all += try parser.feed(piece) }
        all += try parser.finish()
        return all
    }

    private func text(_ events: [SSEEvent]) -> [String] {
        events.map { String(decoding: $0.data, as: UTF8.self) }
    }

    @Test func readsLFFramingWithOneSpace() throws {
        let stream = "data: {\"a\":1}\n\ndata: [DONE]\n\n"
        let result = try events([Array(stream.utf8)])
        #expect(text(result) == ["{\"a\":1}", "[DONE]"])
        #expect(result.last?.isDone == true)
    }

    @Test func readsCRLFAndNoSpaceAndLeadingBlankLines() throws {
        let stream = "\r\n\r\ndata:{\"a\":\"b: c\"}\r\n\r\ndata:[DONE]\r\n\r\n"
        #expect(text(try events([Array(stream.utf8)])) == ["{\"a\":\"b: c\"}", "[DONE]"])
    }

    @Test func survivesEverySplitPointIncludingInsideUTF8() throws {
        let stream = Array("data: {\"c\":\"Привет: мир\"}\r\n\r\ndata: [DONE]\n\n".utf8)
        for cut in 1..<stream.count {
            let result = try events([Array(stream[..<cut]), Array(stream[cut...])])
            #expect(text(result) == ["{\"c\":\"Привет: мир\"}", "[DONE]"], "split at \(cut)")
        }
    }

    @Test func handlesByteAtATimeDelivery() throws {
        let stream = Array("event: response.message.delta\ndata: {\"x\":1}\n\n: comment\nid: 4\ndata: a\ndata: b\n\n".utf8)
        let result = try events(stream.map { [$0] })
        #expect(result.count == 2)
        #expect(result[0].name == "response.message.delta")
        #expect(text(result) == ["{\"x\":1}", "a\nb"])
    }

    @Test func dispatchesALastEventWithoutTrailingBlankLine() throws {
        #expect(text(try events([Array("data: [DONE]".utf8)])) == ["[DONE]"])
    }

    @Test func refusesAnEndlessLine() {
        var parser = SSEParser(maxLineBytes: 16)
        #expect(throws: SSEParseError.self) { try parser.feed(Array(repeating: UInt8(ascii: "a"), count: 40)) }
    }
}
