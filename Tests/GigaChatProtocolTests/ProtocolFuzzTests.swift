import Foundation
import TestSupport
import Testing

@testable import GigaChatProtocol

/// Bounded, seeded fuzzing of everything that reads bytes from a client: the JSON parser, request
/// decoding and line framing. Inputs that once broke something live in Regressions/ and run every time.
/// FUZZ_ITERATIONS raises the budget for a longer local run.
@Suite struct ProtocolFuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["FUZZ_ITERATIONS"] ?? "") ?? 20_000

    static let seeds: [String] = [
        #"{"jsonrpc":"2.0","id":1,"method":"chat","params":{"messages":[{"role":"user","content":"Привет"}],"stream":true}}"#,
        #"{"id":"x","method":"status"}"#,
        #"[1,2.5e-3,-0,true,false,null,"\u0041\n",{"a":{}}]"#,
        #"{"id":9223372036854775807,"method":"cancel","params":{"id":-9223372036854775808}}"#,
    ]

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        let interesting: [UInt8] = Array(#"{}[]",:\\u0123456789eE+-.tfn "#.utf8) + [0x00, 0x0A, 0x0D, 0x7F, 0x80, 0xC3, 0xBF, 0xE2, 0xF0, 0xFF]
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let choice = Int.random(in: 0..<5, using: &rng)
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
            switch choice {
            case 0 where !bytes.isEmpty: bytes[position] = interesting.randomElement(using: &rng) ?? 0
            case 1: bytes.insert(interesting.randomElement(using: &rng) ?? 0, at: position)
            case 2 where !bytes.isEmpty: bytes.remove(at: position)
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...8, using: &rng))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            default: bytes[position...].reverse()
            }
        }
        return bytes
    }

    static func regressionInputs() -> [[UInt8]] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Regressions")
        let files = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
        return files.sorted { $0.path < $1.path }.compactMap { try? Array(Data(contentsOf: $0)) }
    }

    @Test func regressionInputsStillDecodeCleanly() {
        let inputs = Self.regressionInputs()
        #expect(!inputs.isEmpty, "Regressions/ must hold the inputs found so far")
        for input in inputs { Self.checkDecoding(input) }
    }

    @Test func mutatedRequestsNeverCrashAndRoundTrip() {
        var rng = SplitMix64(seed: 0x6167_6967_6163_6861)
        let seeds = Self.seeds.map { Array($0.utf8) }
        for iteration in 0..<Self.iterations {
            let input = Self.mutate(seeds[iteration % seeds.count], &rng)
            Self.checkDecoding(input)
        }
    }

    /// The properties every input must satisfy: decoding ends in a request or a well-formed error, and
    /// whatever parses re-serializes to text that parses to the same value.
    static func checkDecoding(_ input: [UInt8]) {
        if let value = try? JSONValue(parsing: input) {
            let text = value.jsonText
            #expect(!text.contains("\n"))
            #expect((try? JSONValue(parsing: text)) == value, "round trip of \(String(decoding: input, as: UTF8.self))")
        }
        switch RPCRequest.decode(line: input) {
        case .success(let request):
            let reencoded = Array(request.line.dropLast())
            #expect((try? RPCRequest.decode(line: reencoded).get()) == request)
        case .failure(let failure):
            #expect([-32700, -32600, -32602].contains(failure.error.code.rawValue))
            #expect(!failure.error.message.isEmpty)
        }
    }

    @Test func lineFramingIsIndependentOfHowBytesArrive() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<(Self.iterations / 20) {
            var stream: [UInt8] = []
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                stream += (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0x20...0x7E, using: &rng) }
                stream.append(0x0A)
            }
            var whole = LineBuffer(maxLineBytes: 32)
            let expected = whole.append(stream)
            var pieces = LineBuffer(maxLineBytes: 32)
            var actual: [LineBuffer.Output] = []
            var index = 0
            while index < stream.count {
                let end = min(stream.count, index + Int.random(in: 1...7, using: &rng))
                actual += pieces.append(stream[index..<end])
                index = end
            }
            #expect(actual == expected)
        }
    }
}
