import NIOCore
import NIOEmbedded
import Testing

@testable import GigaChatDaemon

@Suite struct LineFrameDecoderTests {
    private func channel(max: Int) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLineBytes: max)))
        return channel
    }

    private func lines(_ channel: EmbeddedChannel) throws -> [String] {
        var result: [String] = []
        while let frame = try channel.readInbound(as: LineFrame.self) {
            switch frame {
            case .line(let buffer): result.append(String(buffer: buffer))
            case .tooLong: result.append("<too long>")
            }
        }
        return result
    }

    @Test func splitsLinesAndDropsCR() throws {
        let channel = try channel(max: 100)
        try channel.writeInbound(ByteBuffer(string: "{\"a\":1}\r\n{\"b\""))
        try channel.writeInbound(ByteBuffer(string: ":2}\n"))
        #expect(try lines(channel) == ["{\"a\":1}", "{\"b\":2}"])
    }

    @Test func deliversALastLineWithoutNewlineAtEOF() throws {
        let channel = try channel(max: 100)
        try channel.writeInbound(ByteBuffer(string: "{\"a\":1}"))
        #expect(try lines(channel).isEmpty)
        _ = try channel.finish()
        #expect(try lines(channel) == ["{\"a\":1}"])
    }

    @Test func reportsAnOverlongLineOnceAndDiscardsTheRest() throws {
        let channel = try channel(max: 16)
        try channel.writeInbound(ByteBuffer(string: "ok\n" + String(repeating: "x", count: 40)))
        try channel.writeInbound(ByteBuffer(string: String(repeating: "y", count: 4000) + "\n{\"next\":1}\n"))
        #expect(try lines(channel) == ["ok", "<too long>"])
    }

    @Test func countsALongLineEvenWhenItsNewlineArrivesInTheSameRead() throws {
        let channel = try channel(max: 8)
        try channel.writeInbound(ByteBuffer(string: String(repeating: "z", count: 9) + "\n"))
        #expect(try lines(channel) == ["<too long>"])
    }
}
