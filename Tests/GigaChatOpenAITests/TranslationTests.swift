import GigaChatAPI
import GigaChatProtocol
import NIOHTTP1
import Testing

@testable import GigaChatOpenAI

private struct NotAnObject: Error {}

private func object(_ text: String) throws -> JSONObject {
    guard case .object(let object) = try JSONValue(parsing: text) else { throw NotAnObject() }
    return object
}

private func request(_ text: String, aliases: [String: String] = [:]) throws -> ChatRequest {
    try ChatRequest(try object(text), aliases: aliases, sessionHeader: nil)
}

private func refusal(_ text: String) throws -> OpenAIError? {
    do {
        _ = try ChatRequest(try object(text), aliases: [:], sessionHeader: nil)
        return nil
    } catch let error as OpenAIError {
        return error
    }
}

@Suite struct ChatRequestTests {
    @Test func systemAndDeveloperBecomeOneLeadingSystemMessage() throws {
        let translated = try request(
            #"""
            {"model":"gpt-4o","messages":[{"role":"user","content":"a"},{"role":"system","content":"s1"},
             {"role":"developer","content":[{"type":"text","text":"s2"}]}],"max_completion_tokens":5,"stop":"x"}
            """#, aliases: ["gpt-4o": "GigaChat-2-Max"])
        #expect(translated.body["model"] == "GigaChat-2-Max")
        #expect(translated.requestedModel == "gpt-4o")
        #expect(translated.body["messages"] == [["role": "system", "content": "s1\n\ns2"], ["role": "user", "content": "a"]])
        #expect(translated.body["max_tokens"] == 5)
        #expect(translated.stop == ["x"])
        #expect(translated.body["stream"] == false)
    }

    @Test func toolsBecomeFunctionsWithAutoByDefault() throws {
        let translated = try request(
            #"""
            {"messages":[{"role":"user","content":"?"}],
             "tools":[{"type":"function","function":{"name":"f","description":"d"}}]}
            """#)
        #expect(translated.body["function_call"] == "auto")
        #expect(translated.body["functions"] == [["name": "f", "description": "d", "parameters": ["type": "object", "properties": [:]]]])
        #expect(!translated.legacyFunctions)
    }

    @Test func toolChoiceForms() throws {
        let tools = #""tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}]"#
        let named = try request(#"{"messages":[{"role":"user","content":"?"}],\#(tools),"tool_choice":{"type":"function","function":{"name":"g"}}}"#)
        #expect(named.body["function_call"] == ["name": "g"])
        #expect(try refusal(#"{"messages":[{"role":"user","content":"?"}],\#(tools),"tool_choice":"required"}"#)?.param == "tool_choice")
        #expect(try refusal(#"{"messages":[{"role":"user","content":"?"}],\#(tools),"tool_choice":{"type":"function","function":{"name":"h"}}}"#) != nil)
    }

    @Test func parallelCallsInHistoryAreSentOneAfterAnother() throws {
        let state = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
        let translated = try request(
            #"""
            {"messages":[{"role":"user","content":"?"},
             {"role":"assistant","content":"thinking","tool_calls":[
               {"id":"call_\#(state)","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},
               {"id":"call_x","type":"function","function":{"name":"g","arguments":""}}]},
             {"role":"tool","tool_call_id":"call_x","content":"plain"},
             {"role":"tool","tool_call_id":"call_\#(state)","content":"{\"ok\":true}"},
             {"role":"user","content":"thanks"}]}
            """#)
        #expect(
            translated.body["messages"] == [
                ["role": "user", "content": "?"],
                ["role": "assistant", "content": "thinking", "function_call": ["name": "f", "arguments": ["a": 1]], "functions_state_id": .string(state)],
                ["role": "function", "name": "f", "content": #"{"ok":true}"#],
                ["role": "assistant", "content": "", "function_call": ["name": "g", "arguments": [:]]],
                ["role": "function", "name": "g", "content": #""plain""#],
                ["role": "user", "content": "thanks"],
            ])
    }

    @Test func unansweredOrStrayToolMessagesAreRefused() throws {
        #expect(
            try refusal(
                #"""
                {"messages":[{"role":"user","content":"?"},
                 {"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}}]}]}
                """#) != nil)
        #expect(try refusal(#"{"messages":[{"role":"tool","tool_call_id":"a","content":"x"}]}"#) != nil)
    }

    @Test func unsupportedParametersAreRefusedByName() throws {
        let base = #""messages":[{"role":"user","content":"?"}]"#
        for (extra, param) in [
            (#""n":3"#, "n"), (#""logprobs":true"#, "logprobs"), (#""frequency_penalty":1"#, "frequency_penalty"),
            (#""audio":{"voice":"x"}"#, "audio"), (#""tools":[{"type":"web_search"}]"#, "tools"),
        ] {
            let error = try refusal("{\(base),\(extra)}")
            #expect(error?.param == param, "\(extra)")
            #expect(error?.status == .badRequest)
        }
        // Defaults that clients send anyway are fine.
        _ = try request(#"{\#(base),"n":1,"presence_penalty":0,"logprobs":false,"logit_bias":{},"seed":7,"user":"u","parallel_tool_calls":true}"#)
    }

    @Test func responseFormats() throws {
        let schema = try request(
            #"""
            {"messages":[{"role":"user","content":"?"}],
             "response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":{"type":"object"}}}}
            """#)
        #expect(schema.body["response_format"] == ["type": "json_schema", "schema": ["type": "object"], "strict": true])
        let object = try request(#"{"messages":[{"role":"user","content":"?"}],"response_format":{"type":"json_object"}}"#)
        #expect(object.body["response_format"] == ["type": "json_schema", "schema": ["type": "object"]])
    }

    @Test func imagesMustBeDataURLs() throws {
        let translated = try request(
            #"""
            {"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"what"},
             {"type":"image_url","image_url":{"url":"data:image/png;base64,aGVsbG8="}}]}]}
            """#)
        #expect(translated.images.count == 1)
        #expect(translated.images.first?.messageIndex == 1)
        #expect(translated.images.first?.data == Array("hello".utf8))
        #expect(translated.images.first?.mimeType == "image/png")
        #expect(
            try refusal(
                #"""
                {"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}
                """#)?.code == "unsupported_parameter")
    }
}

@Suite struct ChatReplyTests {
    let reply = ChatReply(model: "GigaChat", legacyFunctions: false, created: 1)

    @Test func completionWithAToolCall() throws {
        let result = try JSONValue(
            parsing: #"""
                {"choices":[{"index":0,"finish_reason":"function_call","message":{"role":"assistant","content":"",
                  "function_call":{"name":"f","arguments":{"a":1}},"functions_state_id":"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"}}],
                 "created":5,"model":"GigaChat:2","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"precached_prompt_tokens":1}}
                """#)
        let completion = reply.completion(result, stop: [])
        let choice = completion["choices"]?[0]
        #expect(choice?["finish_reason"] == "tool_calls")
        #expect(choice?["message"]?["content"] == .null)
        #expect(choice?["message"]?["tool_calls"]?[0]?["id"] == "call_0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
        #expect(choice?["message"]?["tool_calls"]?[0]?["function"]?["arguments"] == #"{"a":1}"#)
        #expect(completion["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 1)
        #expect(completion["model"] == "GigaChat:2")
    }

    @Test func finishReasons() {
        #expect(reply.finishReason("blacklist") == "content_filter")
        #expect(reply.finishReason("length") == "length")
        #expect(reply.finishReason("something new") == "stop")
        #expect(ChatReply(model: "m", legacyFunctions: true, created: 0).finishReason("function_call") == "function_call")
    }

    @Test func stopSequences() {
        #expect(StopFilter.cut("one two three", at: ["three", "two"]) == "one ")
        #expect(StopFilter.cut("abc", at: ["x"]) == nil)
        #expect(StopFilter.holdBack("say thr", stops: ["three"]) == 3)
        #expect(StopFilter.holdBack("say", stops: ["three"]) == 0)
    }

    @Test func toolCallIDsCarryTheStateID() {
        let state = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
        #expect(ToolCallID.stateID(from: ToolCallID.make(stateID: state)) == state)
        #expect(ToolCallID.stateID(from: ToolCallID.make(stateID: nil)) == nil)
        #expect(ToolCallID.stateID(from: "call_../../etc") == nil)
        #expect(ToolCallID.make(stateID: state, index: 2) == "call_\(state)_2")
        #expect(ToolCallID.stateID(from: "call_\(state)_2") == state)
        #expect(ToolCallID.stateID(from: "call_\(state)_") == nil)
        #expect(ToolCallID.stateID(from: "call_\(state)_x") == nil)
    }

    @Test func severalCallsOfOneReplyGetOneIDEach() throws {
        let state = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
        let result = ChatV2Bridge.result(
            try JSONValue(
                parsing: #"""
                    {"model":"GigaChat-2-Max:2","created_at":7,"finish_reason":"function_call",
                     "messages":[{"role":"assistant","tool_state_id":"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
                       "content":[{"function_call":{"name":"a","arguments":{"x":1}}},{"function_call":{"name":"b","arguments":{}}}]}],
                     "usage":{"input_tokens":9,"input_tokens_details":{"cached_tokens":4},"output_tokens":2,"total_tokens":11}}
                    """#))
        let completion = reply.completion(result, stop: [])
        let calls = completion["choices"]?[0]?["message"]?["tool_calls"]?.arrayValue ?? []
        #expect(calls.map { $0["id"] } == [.string("call_" + state), .string("call_\(state)_1")])
        #expect(calls.map { $0["function"]?["name"] } == ["a", "b"])
        #expect(completion["choices"]?[0]?["finish_reason"] == "tool_calls")
        #expect(completion["usage"]?["prompt_tokens"] == 9)
        #expect(completion["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 4)
        #expect(completion["model"] == "GigaChat-2-Max:2")
    }
}

@Suite struct ChatV2BridgeTests {
    @Test func requestsWithToolsGoToV2AndOthersStayOnV1() throws {
        #expect(try request(#"{"messages":[{"role":"user","content":"hi"}]}"#).contract == .v1)
        let tools = #"[{"type":"function","function":{"name":"f"}}]"#
        #expect(try request(#"{"messages":[{"role":"user","content":"hi"}],"tools":\#(tools)}"#).contract == .v2)
        #expect(try request(#"{"messages":[{"role":"user","content":"hi"}],"functions":[{"name":"f"}]}"#).contract == .v1)
    }

    @Test func aRequestBecomesV2Shaped() throws {
        let state = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
        let translated = try request(
            #"""
            {"model":"GigaChat","temperature":0.5,"max_tokens":9,"tool_choice":{"type":"function","function":{"name":"a"}},
             "response_format":{"type":"json_object"},
             "tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}],
             "messages":[{"role":"system","content":"s"},{"role":"user","content":"q"},
               {"role":"assistant","content":null,"tool_calls":[
                 {"id":"call_\#(state)","type":"function","function":{"name":"a","arguments":"{\"x\":1}"}},
                 {"id":"call_\#(state)_1","type":"function","function":{"name":"b","arguments":""}}]},
               {"role":"tool","tool_call_id":"call_\#(state)_1","content":"plain"},
               {"role":"tool","tool_call_id":"call_\#(state)","content":"{\"ok\":true}"}]}
            """#)
        let body = JSONValue.object(ChatV2Bridge.body(translated.body))
        #expect(body["model_options"] == ["temperature": 0.5, "max_tokens": 9, "response_format": ["type": "json_schema", "schema": ["type": "object"]]])
        #expect(body["tool_config"] == ["mode": "forced", "function_name": "a"])
        #expect(body["tools"]?[0]?["functions"]?["specifications"]?.arrayValue?.count == 2)
        let messages = body["messages"]?.arrayValue ?? []
        #expect(messages.map { $0["role"] } == ["system", "user", "assistant", "tool", "tool"])
        #expect(messages[0]["content"] == [["text": "s"]])
        #expect(
            messages[2] == [
                "role": "assistant", "tools_state_id": .string(state),
                "content": [["function_call": ["name": "a", "arguments": ["x": 1]]], ["function_call": ["name": "b", "arguments": [:]]]],
            ], "both calls of one reply go back in one message")
        #expect(messages[3]["content"] == [["function_result": ["name": "a", "result": ["ok": true]]]])
        #expect(messages[4]["content"] == [["function_result": ["name": "b", "result": "plain"]]])
    }

    @Test func callsOfDifferentRepliesStaySeparate() {
        let call: (String, String) -> JSONValue = { name, state in
            ["role": "assistant", "tools_state_id": .string(state), "content": [["function_call": ["name": .string(name)]]]]
        }
        let result: (String) -> JSONValue = { name in ["role": "tool", "content": [["function_result": ["name": .string(name)]]]] }
        let grouped = ChatV2Bridge.grouped([call("a", "s1"), result("a"), call("b", "s2"), result("b"), call("c", "s2"), result("c")])
        #expect(grouped.map { $0["content"]?.arrayValue?.count } == [1, 1, 2, 1, 1])
    }
}

@Suite struct ErrorMappingTests {
    @Test func upstreamFailuresGetTheStatusesClientsExpect() {
        #expect(OpenAIError.upstream(APIError(.rateLimited, "slow down", status: 429, retryAfter: 3)).status == .tooManyRequests)
        #expect(OpenAIError.upstream(APIError(.rateLimited, "slow down", status: 429, retryAfter: 3)).retryAfter == 3)
        #expect(OpenAIError.upstream(APIError(.http, "pay", status: 402)).code == "insufficient_quota")
        #expect(OpenAIError.upstream(APIError(.paymentRequired, "pay", status: 402)).status == .paymentRequired)
        #expect(OpenAIError.upstream(APIError(.http, "bad", status: 422)).status == .badRequest)
        #expect(OpenAIError.upstream(APIError(.authentication, "key refused", status: 401)).status == .badGateway)
        #expect(OpenAIError.upstream(APIError(.unavailable, "down")).status == .badGateway)
        #expect(OpenAIError.upstream(APIError(.http, "gateway", status: 503)).status == .serviceUnavailable)
        #expect(OpenAIError.upstream(APIError(.notConfigured, "no key")).status == .serviceUnavailable)
    }

    @Test func theShapeIsOpenAIs() {
        let json = OpenAIError.invalid("bad", param: "n").json
        #expect(json == ["error": ["message": "bad", "type": "invalid_request_error", "param": "n", "code": .null]])
    }
}

@Suite struct SmallPartsTests {
    @Test func localKeyMatchesOnlyTheExactBearerValue() {
        let key = LocalKey(value: Array("gcd-0123456789abcdef".utf8))
        #expect(key.matches(authorization: "Bearer gcd-0123456789abcdef"))
        #expect(key.matches(authorization: "bearer gcd-0123456789abcdef"))
        #expect(!key.matches(authorization: "Bearer gcd-0123456789abcde"))
        #expect(!key.matches(authorization: "Bearer gcd-0123456789abcdefX"))
        #expect(!key.matches(authorization: "Basic gcd-0123456789abcdef"))
        #expect(!key.matches(authorization: nil))
        #expect(!key.matches(authorization: "Bearer " + String(repeating: "g", count: 256 + 20)))
    }

    @Test func base64EmbeddingsAreLittleEndianFloat32() {
        // 1.0 is 0x3F800000, little-endian 00 00 80 3F.
        #expect(EmbeddingsEndpoint.base64([1.0, 0]) == "AACAPwAAAAA=")
    }

    @Test func pathDecoding() {
        #expect(Router.percentDecoded("GigaChat%2D2") == "GigaChat-2")
        #expect(Router.percentDecoded("bad%zz") == "bad%zz")
        #expect(Router.percentEncoded("a b/c") == "a%20b%2Fc")
    }

    @Test func forwardedPaths() throws {
        #expect(try GigaChatForward.upstreamPath("/api/v1/models") == "/models")
        #expect(throws: OpenAIError.self) { try GigaChatForward.upstreamPath("/api/v1/files/../token") }
        #expect(throws: OpenAIError.self) { try GigaChatForward.upstreamPath("/api/v1/token") }
        #expect(throws: OpenAIError.self) { try GigaChatForward.upstreamPath("/api/v3/x") }
    }
}
