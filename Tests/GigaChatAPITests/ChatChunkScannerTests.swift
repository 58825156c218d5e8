import GigaChatProtocol
import TestSupport
import Testing

@testable import GigaChatAPI

@Suite struct ChatChunkScannerTests {
    /// What the full parser reads from a chunk, for comparing with the scanner.
    private func expected(_ bytes: [UInt8]) -> ChatChunkScanner.Chunk? {
        guard case .object(let top)? = try? JSONValue(parsing: bytes), let choice = top["choices"]?[0],
            let content = choice["delta"]?["content"]?.stringValue
        else { return nil }
        return ChatChunkScanner.Chunk(
            content: content, role: choice["delta"]?["role"]?.stringValue, index: choice["index"]?.intValue ?? -1,
            created: top["created"]?.intValue, model: top["model"]?.stringValue, object: top["object"]?.stringValue
        )
    }

    @Test func theRecordedShapeIsReadWithoutATree() {
        let recorded =
            #"{"choices":[{"delta":{"content":"Привет","role":"assistant"},"index":0}],"created":1737980000,"model":"GigaChat:1.0.26.20","object":"chat.completion"}"#
        let chunk = ChatChunkScanner.scan(Array(recorded.utf8))
        #expect(
            chunk
                == ChatChunkScanner.Chunk(
                    content: "Привет", role: "assistant", index: 0, created: 1_737_980_000, model: "GigaChat:1.0.26.20", object: "chat.completion"))
        let escaped = #"{ "object":"chat.completion", "choices" : [ {"index":0, "delta":{"content":"a\n\"b\" \u0416 \ud83d\ude00"}} ] }"#
        #expect(ChatChunkScanner.scan(Array(escaped.utf8))?.content == "a\n\"b\" Ж 😀")
        // Members the accumulator does not read are skipped when they are plain values.
        let stamped = #"{"choices":[{"delta":{"content":"x"},"index":0}],"x_sent_ns":1764450000123456789,"usage":null}"#
        #expect(ChatChunkScanner.scan(Array(stamped.utf8))?.content == "x")
    }

    @Test(arguments: [
        #"{"choices":[{"delta":{"content":"x"},"index":0,"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}"#,  // the last chunk
        #"{"choices":[{"delta":{"content":"x","function_call":{"name":"f"}},"index":0}]}"#,
        #"{"choices":[{"delta":{"content":"x"},"index":0}],"created":1.5}"#,
        #"{"choices":[{"delta":{"content":"x"},"index":0}],"created":01}"#,
        #"{"choices":[{"delta":{"content":"x"},"index":0}],"created":99999999999999999999}"#,
        #"{"choices":[{"delta":{"content":"x"},"index":0}],"model":"a","model":"b"}"#,
        #"{"choices":[{"delta":{"content":"x"},"index":0},{"delta":{"content":"y"},"index":1}]}"#,
        #"{"choices":[{"delta":{"role":"assistant"},"index":0}]}"#,
        #"{"choices":[{"delta":{"content":"x"},"index":0}]} trailing"#,
        #"{"choices":[{"delta":{"content":"x"},"index":0}]"#,
        #"{"choices":[{"delta":{"content":"x\u00"},"index":0}]}"#,
        #"{"message":"error","status":500}"#,
        #"{"choices":[{"delta":{"content":"x"},"index":0}],"usage":{"total_tokens":3}}"#,
        #"{"choices":[{"delta":{"content":"x"},"index":0}],"x":[1]}"#,
        #"{"choices":[{"delta":{"content":"x"},"index":0}],"\u0063reated":1}"#,
    ])
    func everyOtherShapeGoesToTheFullParser(_ text: String) {
        #expect(ChatChunkScanner.scan(Array(text.utf8)) == nil)
    }

    @Test func rawControlCharactersAndBadUTF8GoToTheFullParser() {
        #expect(ChatChunkScanner.scan(Array(#"{"choices":[{"delta":{"content":"a"#.utf8) + [0x0A] + Array(#""},"index":0}]}"#.utf8)) == nil)
        #expect(ChatChunkScanner.scan(Array(#"{"choices":[{"delta":{"content":""#.utf8) + [0xC3, 0x28] + Array(#""},"index":0}]}"#.utf8)) == nil)
    }

    /// Generated chunks (key orders, whitespace, escapes, non-ASCII, extra keys): whenever the scanner
    /// answers, it says exactly what the full parser reads.
    @Test func agreesWithTheFullParser() throws {
        var random = SplitMix64(seed: 0x5EED_C4A7)
        let pieces = ["a", "Ж", "😀", "\\n", "\\\"", "\\\\", "\\u0041", "\\ud83d\\ude00", " ", "\\/", "\\t"]
        var scanned = 0
        var last: ChatChunkScanner.Chunk?
        for _ in 0..<3000 {
            let content = (0..<Int.random(in: 0...6, using: &random)).map { _ in pieces.randomElement(using: &random) ?? "a" }.joined()
            var delta = [#""content":"\#(content)""#]
            if Bool.random(using: &random) { delta.append(#""role":"assistant""#) }
            if Int.random(in: 0..<10, using: &random) == 0 { delta.append(#""extra":1"#) }
            delta.shuffle(using: &random)
            let space = Bool.random(using: &random) ? " " : ""
            var choice = [#""delta":{\#(delta.joined(separator: ","))}"#, #""index":\#(Int.random(in: 0...2, using: &random))"#]
            choice.shuffle(using: &random)
            var top = [#""choices":[{\#(choice.joined(separator: ",\(space)"))}]"#]
            if Bool.random(using: &random) { top.append(#""created":\#(Int.random(in: 0...2_000_000_000, using: &random))"#) }
            if Bool.random(using: &random) { top.append(Bool.random(using: &random) ? #""model":"GigaChat-2:2.0""# : #""model":"GigaChat-2:2.1""#) }
            if Bool.random(using: &random) { top.append(#""object":"chat.completion""#) }
            if Int.random(in: 0..<4, using: &random) == 0 {
                top.append(
                    [#""x_sent_ns":1764450000123456789"#, #""note":"a\"b""#, #""usage":null"#, #""flag":true"#, #""f":-1.5e3"#].randomElement(using: &random)
                        ?? "")
            }
            top.shuffle(using: &random)
            let bytes = Array("{\(space)\(top.joined(separator: ",\(space)"))\(space)}".utf8)
            // Half the time with the last chunk's strings to reuse, as the accumulator scans.
            let fast = ChatChunkScanner.scan(bytes, previous: Bool.random(using: &random) ? last : nil)
            if fast != nil { last = fast }
            if let fast {
                scanned += 1
                #expect(fast == expected(bytes), "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        #expect(scanned > 2000, "the common shape is taken by the scanner")
    }

    @Test func theAccumulatorEndsTheSameEitherWay() throws {
        let chunks = [
            #"{"choices":[{"delta":{"content":"При","role":"assistant"},"index":0}],"created":5,"model":"GigaChat:2","object":"chat.completion"}"#,
            #"{"choices":[{"delta":{"content":"вет\n"},"index":0}],"created":5,"model":"GigaChat:2","object":"chat.completion"}"#,
            #"{"choices":[{"delta":{"content":""},"index":0,"finish_reason":"stop"}],"created":5,"model":"GigaChat:2","object":"chat.completion","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
        ]
        var accumulator = ChatStreamAccumulator()
        var deltas: [ChatDelta] = []
        for chunk in chunks { deltas += try accumulator.consume(SSEEvent(data: Array(chunk.utf8))) }
        #expect(deltas.map(\.content) == ["При", "вет\n", ""])
        #expect(deltas.first?.role == "assistant")
        #expect(deltas.last?.finishReason == "stop")
        let result = accumulator.result
        #expect(result["choices"]?[0]?["message"]?["content"] == "Привет\n")
        #expect(result["choices"]?[0]?["finish_reason"] == "stop")
        #expect(result["created"] == 5 && result["model"] == "GigaChat:2" && result["usage"]?["total_tokens"] == 3)
    }
}
