import Testing

@testable import GigaChatProtocol

@Suite struct RPCRequestTests {
    private func decode(_ text: String) -> Result<RPCRequest, RPCDecodingFailure> {
        RPCRequest.decode(line: Array(text.utf8))
    }

    @Test func acceptsAFullRequest() throws {
        let request = try decode(#"{"jsonrpc":"2.0","id":7,"method":"chat","params":{"stream":true}}"#).get()
        #expect(request.id == .int(7))
        #expect(request.method == "chat")
        #expect(request.params["stream"] == .bool(true))
    }

    @Test func acceptsAMissingJSONRPCMember() throws {
        let request = try decode(#"{"id":"a","method":"status"}"#).get()
        #expect(request.id == .string("a"))
    }

    @Test func treatsAMissingIDAsANotification() throws {
        #expect(try decode(#"{"method":"status"}"#).get().id == nil)
    }

    @Test(arguments: [
        (#"not json"#, -32700, false),
        (#"[{"method":"status"}]"#, -32600, false),
        (#""just a string""#, -32600, false),
        (#"{"id":1}"#, -32600, true),
        (#"{"id":1,"method":5}"#, -32600, true),
        (#"{"id":1.5,"method":"status"}"#, -32600, false),
        (#"{"id":null,"method":"status"}"#, -32600, false),
        (#"{"jsonrpc":"1.0","id":1,"method":"status"}"#, -32600, true),
        (#"{"id":1,"method":"chat","params":[1,2]}"#, -32602, true),
    ])
    func refusesBadRequests(_ line: String, _ code: Int, _ keepsID: Bool) {
        guard case .failure(let failure) = decode(line) else {
            Issue.record("accepted \(line)")
            return
        }
        #expect(failure.error.code.rawValue == code)
        #expect((failure.id != nil) == keepsID)
    }

    @Test func encodesResponsesAsOneLine() throws {
        let success = RPCMessage.response(id: .int(1), result: .success(["text": "a\nb"]))
        let line = String(decoding: success.line, as: UTF8.self)
        #expect(line == "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"text\":\"a\\nb\"}}\n")
        let failure = RPCMessage.response(id: nil, result: .failure(RPCError(.parseError, "bad")))
        #expect(
            String(decoding: failure.line, as: UTF8.self)
                == "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"bad\"}}\n")
    }

    @Test func readsBackWhatItWrites() throws {
        let messages: [RPCMessage] = [
            .notification(method: "chat.delta", params: ["id": 3, "content": "Пр"]),
            .response(id: .string("x"), result: .failure(RPCError(.upstreamError, "boom", data: ["status": 502]))),
            .response(id: .int(9), result: .success(["ok": true])),
        ]
        for message in messages {
            var line = message.line
            line.removeLast()
            #expect(try RPCMessage(line: line) == message)
        }
    }
}
