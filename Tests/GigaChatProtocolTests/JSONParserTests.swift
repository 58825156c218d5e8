import Testing

@testable import GigaChatProtocol

@Suite struct JSONParserTests {
    @Test func parsesEveryKind() throws {
        let value = try JSONValue(parsing: #"{"a":[1,-2.5,true,false,null,"x"],"b":{"c":"d"}}"#)
        #expect(value["a"]?[0] == .int(1))
        #expect(value["a"]?[1] == .double(-2.5))
        #expect(value["a"]?[2] == .bool(true))
        #expect(value["a"]?[4] == .null)
        #expect(value["b"]?["c"] == .string("d"))
    }

    @Test func keepsMemberOrderAndRoundTrips() throws {
        let text = #"{"z":1,"a":"Привет","m":[{"k":"v\n\"q\""}],"n":1.5}"#
        let value = try JSONValue(parsing: text)
        #expect(value.objectValue?.keys == ["z", "a", "m", "n"])
        #expect(value.jsonText == text)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue(parsing: #""\u041f\ud83d\ude00\t\/""#)
        #expect(value == .string("П😀\t/"))
    }

    @Test func keepsLargeIntegersExact() throws {
        #expect(try JSONValue(parsing: "9007199254740993") == .int(9_007_199_254_740_993))
        #expect(try JSONValue(parsing: "1e3") == .double(1000))
        #expect(try JSONValue(parsing: "123456789012345678901234567890") == .double(1.2345678901234568e29))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "tru", "\"abc", "[1] x", "{\"a\":1,}", "\"\u{01}\"",
        "1e999", "-1e400", "\"\\ud800\"", "\"\\x\"", "NaN", "Infinity",
    ])
    func rejectsInvalidDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xFF, 0xFE, 0x22]
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: bytes) }
    }

    @Test func limitsNestingInsteadOfOverflowingTheStack() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        #expect(error?.message.contains("nesting") == true)
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try JSONValue(parsing: fine) }
    }

    @Test func serializesControlCharactersAsEscapes() {
        let value = JSONValue.string("a\u{1}b\nc")
        #expect(value.jsonText == #""a\u0001b\nc""#)
        #expect(!value.jsonText.contains("\n"))
    }
}

@Suite struct JSONObjectScaleTests {
    /// 100,000 keys (a 1.5 MB line): with members in a scanned array this took minutes; the end-to-end
    /// suite checks that such a line no longer freezes the daemon.
    @Test func manyKeysKeepOrderAndLookups() throws {
        var text = "{"
        for index in 0..<100_000 {
            if index > 0 { text += "," }
            text += "\"k\(index)\":\(index)"
        }
        text += "}"
        let value = try JSONValue(parsing: text)
        #expect(value.objectValue?.count == 100_000)
        #expect(value["k99999"] == .int(99_999))
        #expect(value.objectValue?.keys.first == "k0")
    }

    @Test func duplicateKeysKeepTheirFirstPlaceAndTheLastValue() throws {
        let value = try JSONValue(parsing: #"{"a":1,"b":2,"a":3}"#)
        #expect(value.objectValue?.keys == ["a", "b"])
        #expect(value["a"] == .int(3))
        #expect(value.jsonText == #"{"a":3,"b":2}"#)
    }

    @Test func equalityAndHashIgnoreMemberOrder() throws {
        let one = try JSONValue(parsing: #"{"a":1,"b":[true]}"#)
        let two = try JSONValue(parsing: #"{"b":[true],"a":1}"#)
        #expect(one == two)
        #expect(one.hashValue == two.hashValue)
    }
}
