import GigaChatProtocol
import Testing

@testable import GigaChatAPI

@Suite struct MessageFormsTests {
    @Test func v1MessagesBecomeNeutralAndComeBackTheSame() throws {
        let v1: [JSONValue] = [
            ["role": "user", "content": "hi", "attachments": ["file-1"]],
            ["role": "assistant", "content": "", "function_call": ["name": "f", "arguments": ["x": 1]], "functions_state_id": "s"],
            ["role": "function", "name": "f", "content": #"{"ok":true}"#],
        ]
        let neutral = v1.map(MessageForms.neutral)
        #expect(neutral[0] == ["role": "user", "content": [["text": "hi"], ["files": [["id": "file-1"]]]]])
        #expect(neutral[1] == ["role": "assistant", "content": [["function_call": ["name": "f", "arguments": ["x": 1]]]], "tools_state_id": "s"])
        #expect(neutral[2] == ["role": "tool", "content": [["function_result": ["name": "f", "result": ["ok": true]]]]])
        #expect(
            neutral.compactMap(MessageForms.v1) == [
                ["role": "user", "content": "hi", "attachments": ["file-1"]],
                ["role": "assistant", "content": "", "function_call": ["name": "f", "arguments": ["x": 1]], "functions_state_id": "s"],
                ["role": "function", "name": "f", "content": #"{"ok":true}"#],
            ])
    }

    @Test func v2MessagesStayAsTheyAreAndReasoningIsNotSentBack() {
        let message: JSONValue = ["role": "assistant", "content": [["text": "a"]], "tool_state_id": "t"]
        #expect(MessageForms.neutral(message) == ["role": "assistant", "content": [["text": "a"]], "tools_state_id": "t"])
        // (`== nil` would compare with JSON null: JSONValue is nil-literal expressible.)
        #expect(MessageForms.v2(["role": "reasoning", "content": [["text": "hmm"]]]) == Optional<JSONValue>.none)
        #expect(MessageForms.v1(["role": "reasoning", "content": [["text": "hmm"]]]) == Optional<JSONValue>.none)
    }

    @Test func repliesOfEitherContractAreStoredNeutral() {
        let v1Result: JSONValue = ["choices": [["message": ["role": "assistant", "content": "ok"]]]]
        #expect(MessageForms.replies(in: v1Result, contract: .v1) == [["role": "assistant", "content": [["text": "ok"]]]])
        let v2Result: JSONValue = ["messages": [["role": "reasoning", "content": [["text": "…"]]], ["role": "assistant", "content": [["text": "ok"]]]]]
        #expect(MessageForms.replies(in: v2Result, contract: .v2) == [["role": "assistant", "content": [["text": "ok"]]]])
    }
}
