import GigaChatProtocol
import Testing

@testable import GigaChatAPI

@Suite struct ChatStreamAccumulatorTests {
    private func event(_ json: String) -> SSEEvent { SSEEvent(data: Array(json.utf8)) }

    @Test func foldsChunksIntoTheNonStreamShape() throws {
        var accumulator = ChatStreamAccumulator()
        var deltas: [ChatDelta] = []
        deltas += try accumulator.consume(
            event(#"{"choices":[{"delta":{"content":"Пер","role":"assistant"},"index":0}],"created":1,"model":"GigaChat:2","object":"chat.completion"}"#))
        deltas += try accumulator.consume(
            event(#"{"choices":[{"delta":{"content":"вый"},"index":0}],"created":1,"model":"GigaChat:2","object":"chat.completion"}"#))
        deltas += try accumulator.consume(
            event(
                #"{"choices":[{"delta":{"content":""},"index":0,"finish_reason":"stop"}],"created":1,"model":"GigaChat:2","object":"chat.completion","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#
            ))
        deltas += try accumulator.consume(SSEEvent(data: Array("[DONE]".utf8)))
        #expect(accumulator.sawDone)
        #expect(deltas.map(\.content).joined() == "Первый")
        let result = accumulator.result
        #expect(result["choices"]?[0]?["message"]?["content"] == "Первый")
        #expect(result["choices"]?[0]?["finish_reason"] == "stop")
        #expect(result["usage"]?["total_tokens"] == .int(3))
        #expect(result["model"] == "GigaChat:2")
    }

    @Test func keepsFunctionCallsAndState() throws {
        var accumulator = ChatStreamAccumulator()
        let deltas = try accumulator.consume(
            event(
                #"{"choices":[{"delta":{"role":"assistant","content":"","function_call":{"name":"fc","arguments":{"city":"Москва"}},"functions_state_id":"s1"},"index":0,"finish_reason":"function_call"}]}"#
            ))
        #expect(deltas.first?.functionCall?["name"] == "fc")
        let message = accumulator.result["choices"]?[0]?["message"]
        #expect(message?["function_call"]?["arguments"]?["city"] == "Москва")
        #expect(message?["functions_state_id"] == "s1")
    }

    @Test func reportsBadChunksWithThePartialReply() throws {
        var accumulator = ChatStreamAccumulator()
        _ = try accumulator.consume(event(#"{"choices":[{"delta":{"content":"half"},"index":0}]}"#))
        let error = #expect(throws: APIError.self) { try accumulator.consume(event("{not json")) }
        #expect(error?.kind == .malformed)
        #expect(error?.partial?["choices"]?[0]?["message"]?["content"] == "half")
    }
}
