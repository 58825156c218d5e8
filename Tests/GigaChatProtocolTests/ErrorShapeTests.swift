import Glibc
import Testing

@testable import GigaChatProtocol

@Suite struct ErrorShapeTests {
    @Test func causesKeepTheirDataAndReadAsText() {
        #expect(ErrorCause.errno(ENOENT).description == "No such file or directory")
        #expect(ErrorCause.httpStatus(429).description == "HTTP 429")
        errno = EACCES
        #expect(ErrorCause.lastErrno == .errno(EACCES))
    }

    @Test func parseErrorsSayWhichRuleFired() throws {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        do {
            _ = try JSONParser.parse(deep)
        } catch {
            #expect(error.kind == .tooDeep)
        }
        do {
            _ = try JSONParser.parse("{\"a\":}")
        } catch {
            #expect(error.kind == .invalid && error.offset == 5)
            #expect(error.cause == nil)
        }
    }

    @Test func rpcErrorsAreTheSameShape() {
        let error = RPCError(.invalidParams, "bad")
        #expect(error.kind == .invalidParams && error.message == "bad" && error.cause == nil)
    }
}
