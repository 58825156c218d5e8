import Testing

@testable import GigaChatProtocol

@Suite struct LineBufferTests {
    @Test func splitsLinesAcrossChunks() {
        var buffer = LineBuffer(maxLineBytes: 100)
        #expect(buffer.append(Array("ab".utf8)).isEmpty)
        #expect(buffer.append(Array("c\nde\nf".utf8)) == [.line(Array("abc".utf8)), .line(Array("de".utf8))])
        #expect(buffer.pendingCount == 1)
    }

    @Test func overflowsWithoutHoldingMoreThanTheCap() {
        var buffer = LineBuffer(maxLineBytes: 8)
        #expect(buffer.append(Array("12345".utf8)).isEmpty)
        #expect(buffer.append(Array("67890".utf8)) == [.overflow])
        #expect(buffer.pendingCount == 0)
        #expect(buffer.append(Array("x\n".utf8)).isEmpty)
    }
}

@Suite struct SocketPathTests {
    @Test func followsTheDocumentedOrder() {
        let env: [String: String] = ["GIGACHATD_SOCKET": "/e/s.sock", "XDG_RUNTIME_DIR": "/run/user/5"]
        #expect(SocketPath.resolve(flag: "/f.sock", environment: { env[$0] }, uid: 5) == SocketPath(path: "/f.sock", source: .flag))
        #expect(SocketPath.resolve(flag: nil, environment: { env[$0] }, uid: 5).path == "/e/s.sock")
        let runtime: [String: String] = ["XDG_RUNTIME_DIR": "/run/user/5"]
        #expect(SocketPath.resolve(flag: nil, environment: { runtime[$0] }, uid: 5).path == "/run/user/5/gigachat/gigachatd.sock")
        #expect(SocketPath.resolve(flag: nil, environment: { _ in nil }, uid: 5).path == "/tmp/gigachat-5/gigachatd.sock")
        #expect(SocketPath(path: "/tmp/gigachat-5/gigachatd.sock", source: .flag).directory == "/tmp/gigachat-5")
    }
}
