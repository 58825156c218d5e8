import Testing

@testable import GigaChatProtocol

@Suite struct ControlCharactersTests {
    @Test func oneLineCollapsesBreaksAndDropsOtherControls() {
        #expect(ControlCharacters.oneLine("bad\r\n\tthing\u{1B}[31m red\u{9B}\u{7F}") == "bad thing[31m red")
        #expect(ControlCharacters.oneLine("Привет «мир»") == "Привет «мир»")
    }

    @Test func escapedMakesEveryControlVisible() {
        #expect(ControlCharacters.escaped("x\nFORGED\r\t\u{1B}[2J\u{0}\u{85}") == "x\\nFORGED\\r\\t\\u{1B}[2J\\u{0}\\u{85}")
        #expect(ControlCharacters.escaped("plain «text»") == "plain «text»")
    }
}

@Suite struct DurationsTests {
    @Test func conversionsSaturateInsteadOfTrapping() {
        #expect(Durations.from(seconds: .infinity) == .milliseconds(Int64(Durations.maxSeconds * 1000)))
        #expect(Durations.from(seconds: 1e300) == .milliseconds(Int64(Durations.maxSeconds * 1000)))
        #expect(Durations.from(seconds: -5) == .zero)
        #expect(Durations.from(seconds: .nan) == .zero)
        #expect(Durations.from(seconds: 1.5) == .milliseconds(1500))
        #expect(Durations.milliseconds(.seconds(2) + .milliseconds(345)) == 2345)
        #expect(Durations.milliseconds(.seconds(-3)) == 0)
        #expect(Durations.milliseconds(.seconds(Int64.max)) == Int64.max)
        #expect(Durations.text(seconds: 30) == "30 s")
        #expect(Durations.text(seconds: 1.5) == "1.5 s")
        #expect(Durations.text(seconds: 1e300) == "1e+300 s")
    }
}
