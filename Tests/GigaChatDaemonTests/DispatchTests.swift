import GigaChatAPI
import GigaChatProtocol
import Testing

@testable import GigaChatDaemon

@Suite struct DispatchTests {
    @Test func chatParamsAreValidatedAndDaemonFieldsStripped() throws {
        let good: JSONObject = [
            "messages": [["role": "user", "content": "hi"]],
            "temperature": 0.5, "session_id": "s", "functions": [["name": "f"]],
        ]
        let body = try ChatMethod.validatedBody(Params(good), contract: .v1)
        #expect(body["session_id"] == nil)
        #expect(body["functions"] != nil)
        #expect(body["temperature"] == JSONValue.double(0.5))
    }

    @Test func v2ChatParamsTakeContentPartsOrAPlainString() throws {
        let params: JSONObject = [
            "messages": [["role": "user", "content": "hi"], ["role": "user", "content": [["text": "there"]]]],
            "deadline_ms": 500, "conversation": "c",
        ]
        let body = try ChatMethod.validatedBody(Params(params), contract: .v2)
        #expect(body["messages"] == [["role": "user", "content": [["text": "hi"]]], ["role": "user", "content": [["text": "there"]]]])
        #expect(body["deadline_ms"] == nil && body["conversation"] == nil)
        let error = #expect(throws: RPCError.self) {
            try ChatMethod.validatedBody(Params(["messages": [["role": "user", "content": 5]]]), contract: .v2)
        }
        #expect(error?.code == .invalidParams)
    }

    @Test(arguments: [
        ["messages": "hi"] as JSONObject,
        [:],
        ["messages": []],
        ["messages": [["content": "no role"]]],
        ["messages": [["role": "user", "content": 5]]],
        ["messages": [["role": "user", "content": "x"]], "temperature": "hot"],
        ["messages": [["role": "user", "content": "x"]], "max_tokens": 1.5],
        ["messages": [["role": "user", "content": "x"]], "stream": "yes"],
    ])
    func badChatParamsAreInvalidParams(_ params: JSONObject) {
        let error = #expect(throws: RPCError.self) { try ChatMethod.validatedBody(Params(params), contract: .v1) }
        #expect(error?.code == .invalidParams)
    }

    @Test func upstreamErrorsMapToDocumentedCodes() {
        #expect(APIError(.http, "x", status: 502).rpcError.code == .upstreamError)
        #expect(APIError(.http, "x", status: 502).rpcError.data?["status"] == .int(502))
        #expect(APIError(.authentication, "x", status: 401).rpcError.code == .upstreamAuth)
        #expect(APIError(.rateLimited, "x", status: 429, retryAfter: 90).rpcError.data?["retry_after"] == .double(90))
        let partial = APIError(.truncated, "cut", partial: ["choices": []]).rpcError
        #expect(partial.code == .upstreamProtocol)
        #expect(partial.data?["partial"] == .bool(true))
        #expect(APIError(.cancelled, "x").rpcError.code.rawValue == -32800)
    }

    @Test func paymentAndStopEventsHaveCodesOfTheirOwn() {
        #expect(APIError(.paymentRequired, "x", status: 402).rpcError.code.rawValue == -32013)
        #expect(APIError(.modelUnavailable, "x", status: 423).rpcError.code.rawValue == -32014)
    }
}
