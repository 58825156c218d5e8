import GigaChatProtocol
import Testing

@testable import GigaChatAPI

@Suite struct ChatV2AccumulatorTests {
    private func event(_ name: String, _ json: String) -> SSEEvent {
        SSEEvent(name: name, data: Array(json.utf8))
    }

    @Test func assemblesTheRecordedStreamIntoTheNonStreamShape() throws {
        var accumulator = ChatV2Accumulator()
        let delta = try accumulator.consume(
            event(
                "response.message.delta",
                #"{"model":"GigaChat-3-Ultra:32.3.18.5","created_at":1780321864,"messages":[{"role":"assistant","content":[{"text":"1, 2"}]}]}"#))
        #expect(delta?.text == "1, 2")
        #expect(delta?.reasoningText == nil)
        _ = try accumulator.consume(
            event(
                "response.message.delta",
                #"{"model":"GigaChat-3-Ultra:32.3.18.5","created_at":1780321864,"messages":[{"role":"assistant","content":[{"text":", 3"}]}]}"#))
        let done = try accumulator.consume(
            event(
                "response.message.done",
                #"{"model":"GigaChat-3-Ultra:32.3.18.5","created_at":1780321864,"finish_reason":"stop","usage":{"input_tokens":19,"output_tokens":8,"total_tokens":27}}"#
            ))
        #expect(done?.text == nil)
        #expect(accumulator.failure == nil)
        let expected = try JSONValue(
            parsing: #"""
                {"model":"GigaChat-3-Ultra:32.3.18.5","created_at":1780321864,"finish_reason":"stop",
                 "usage":{"input_tokens":19,"output_tokens":8,"total_tokens":27},
                 "messages":[{"role":"assistant","content":[{"text":"1, 2, 3"}]}]}
                """#)
        #expect(accumulator.result == expected)
    }

    @Test func keepsReasoningApartAndEveryFunctionCall() throws {
        var accumulator = ChatV2Accumulator()
        let thinking = try accumulator.consume(
            event(
                "response.message.delta",
                #"{"messages":[{"role":"reasoning","content":[{"text":"hmm"}]}]}"#))
        #expect(thinking?.reasoningText == "hmm")
        #expect(thinking?.text == nil)
        _ = try accumulator.consume(
            event(
                "response.message.done",
                #"""
                {"finish_reason":"function_call","messages":[{"role":"assistant","tool_state_id":"s1","content":[
                  {"function_call":{"name":"a","arguments":{"x":1}}},{"function_call":{"name":"b","arguments":{}}}]}]}
                """#))
        let messages = try #require(accumulator.result["messages"]?.arrayValue)
        #expect(messages.count == 2)
        #expect(messages[0] == ["role": "reasoning", "content": [["text": "hmm"]]])
        #expect(messages[1]["tool_state_id"] == "s1")
        #expect(messages[1]["content"]?.arrayValue?.compactMap { $0["function_call"]?["name"]?.stringValue } == ["a", "b"])
    }

    @Test func gathersWebSearchSourcesOnTheTextPart() throws {
        var accumulator = ChatV2Accumulator()
        _ = try accumulator.consume(
            event(
                "response.message.delta",
                #"{"messages":[{"role":"assistant","content":[{"text":"A","inline_data":{"sources":{"1":{"url":"u1"}}}}]}]}"#))
        _ = try accumulator.consume(
            event(
                "response.message.delta",
                #"{"messages":[{"role":"assistant","content":[{"text":"B","inline_data":{"sources":{"2":{"url":"u2"}}}}]}]}"#))
        _ = try accumulator.consume(event("response.message.done", #"{"finish_reason":"stop"}"#))
        let part = accumulator.result["messages"]?[0]?["content"]?[0]
        #expect(part?["text"] == "AB")
        #expect(part?["inline_data"]?["sources"]?.objectValue?.keys == ["1", "2"])
    }

    @Test func errorsAndCutOffStreamsKeepThePartialReply() throws {
        var accumulator = ChatV2Accumulator()
        _ = try accumulator.consume(event("response.message.delta", #"{"messages":[{"role":"assistant","content":[{"text":"part"}]}]}"#))
        #expect(accumulator.failure != nil, "no done event yet")
        do {
            _ = try accumulator.consume(event("error", #"{"status_code":500,"message":"boom\n\u001b[31m"}"#))
            Issue.record("an error event must throw")
        } catch {
            #expect(error.kind == .truncated)
            #expect(error.status == 500)
            #expect(!error.message.contains("\n"))
            #expect(error.partial?["messages"]?[0]?["content"]?[0]?["text"] == "part")
        }
        var failed = ChatV2Accumulator()
        _ = try failed.consume(event("response.message.done", #"{"finish_reason":"error"}"#))
        #expect(failed.failure?.contains("error") == true)
        var filtered = ChatV2Accumulator()
        _ = try filtered.consume(event("response.message.done", #"{"finish_reason":"blacklist"}"#))
        #expect(filtered.failure == nil, "blacklist is a result")
    }
}
