import CurlHTTP
import GigaChatProtocol
import Testing

@testable import GigaChatAPI

@Suite struct APIErrorShapeTests {
    @Test func theCauseIsTheStatusOrTheTransfersFailure() {
        #expect(GigaChatClient.statusError(status: 503, message: "busy", retryAfter: nil).cause == .httpStatus(503))
        let refused = CurlError(code: 7, message: "Could not connect to server", kind: .couldNotConnect)
        let mapped = GigaChatClient.transportError(refused, timeoutSeconds: 30)
        #expect(mapped.kind == .unavailable)
        #expect(mapped.cause == .curl(7))
        #expect(refused.cause == .curl(7))
    }
}

@Suite struct ErrorBodyTests {
    @Test func errorBodiesBecomeOneCleanLine() {
        #expect(ErrorBody.message(status: 404, body: Array(#"{"status":404,"message":"No such model"}"#.utf8)) == "No such model")
        #expect(
            ErrorBody.message(status: 400, body: Array(#"{"code":7,"message":"scope from db not fully includes consumed scope"}"#.utf8))
                == "scope from db not fully includes consumed scope (code 7)")
        let html = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>SynGX</center></body></html>"
        #expect(ErrorBody.message(status: 502, body: Array(html.utf8)) == "502 Bad Gateway")
        #expect(ErrorBody.message(status: 503, body: []) == "Service Unavailable")
    }

    @Test func controlCharactersNeverReachTheMessage() {
        let body = Array(#"{"status":400,"message":"bad\nthing\u001b[31m\u0007 here"}"#.utf8)
        #expect(ErrorBody.message(status: 400, body: body) == "bad thing[31m here")
    }
}
