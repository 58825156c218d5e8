import GigaChatProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// One HTTP request, read whole (head and body) before it is handled.
struct IncomingRequest: Sendable {
    var method: HTTPMethod
    /// The path without the query.
    var path: String
    /// The query string without the `?`, if any.
    var query: String?
    var headers: HTTPHeaders
    var body: [UInt8]
    var version: HTTPVersion
    var keepAlive: Bool

    init(head: HTTPRequestHead, body: [UInt8]) {
        method = head.method
        let uri = head.uri
        if let question = uri.firstIndex(of: "?") {
            path = String(uri[..<question])
            query = String(uri[uri.index(after: question)...])
        } else {
            path = uri
            query = nil
        }
        headers = head.headers
        self.body = body
        version = head.version
        keepAlive = head.isKeepAlive
    }

    func header(_ name: String) -> String? {
        headers.first(name: name)
    }
}

/// Writes one response: whole (with Content-Length), or as a chunked stream. Knows whether the head went
/// out, which decides how a failure can still be reported.
final class ResponseWriter: Sendable {
    private struct State {
        var headSent = false
        var ended = false
        /// The response could not be finished properly: the connection must close after it.
        var mustClose = false
    }

    private let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    private let allocator: ByteBufferAllocator
    private let version: HTTPVersion
    private let keepAlive: Bool
    private let requestID: String
    private let state = NIOLockedValueBox(State())
    let progress: WriteProgress

    init(
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, allocator: ByteBufferAllocator, version: HTTPVersion,
        keepAlive: Bool, requestID: String, progress: WriteProgress
    ) {
        self.outbound = outbound
        self.allocator = allocator
        self.version = version
        self.keepAlive = keepAlive
        self.requestID = requestID
        self.progress = progress
    }

    var headSent: Bool { state.withLockedValue { $0.headSent } }
    var ended: Bool { state.withLockedValue { $0.ended } }
    var mustClose: Bool { state.withLockedValue { $0.mustClose || !$0.ended } }

    func markMustClose() {
        state.withLockedValue { $0.mustClose = true }
    }

    private func head(_ status: HTTPResponseStatus, _ extra: [(String, String)], contentLength: Int?) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "Server", value: "gigachatd")
        headers.add(name: "X-Request-Id", value: requestID)
        for (name, value) in extra { headers.add(name: name, value: value) }
        if let contentLength { headers.add(name: "Content-Length", value: String(contentLength)) }
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        return HTTPResponseHead(version: version, status: status, headers: headers)
    }

    private func claimHead() -> Bool {
        state.withLockedValue { state in
            guard !state.headSent else { return false }
            state.headSent = true
            return true
        }
    }

    private func write(_ parts: [HTTPServerResponsePart]) async throws {
        progress.begin()
        defer { progress.end() }
        try await outbound.write(contentsOf: parts)
    }

    /// A whole response.
    func send(_ status: HTTPResponseStatus, headers: [(String, String)] = [], body: [UInt8]) async throws {
        guard claimHead() else { return }
        var buffer = allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        state.withLockedValue { $0.ended = true }
        try await write([.head(head(status, headers, contentLength: body.count)), .body(.byteBuffer(buffer)), .end(nil)])
    }

    func sendJSON(_ status: HTTPResponseStatus, _ json: JSONValue, headers: [(String, String)] = []) async throws {
        var bytes: [UInt8] = []
        json.write(into: &bytes)
        bytes.append(0x0A)
        try await send(status, headers: [("Content-Type", "application/json")] + headers, body: bytes)
    }

    /// Starts a chunked response; the body follows with `write` and ends with `finish`.
    func start(_ status: HTTPResponseStatus, headers: [(String, String)]) async throws {
        guard claimHead() else { return }
        try await write([.head(head(status, headers, contentLength: nil))])
    }

    func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await write([.body(.byteBuffer(buffer))])
    }

    func finish() async throws {
        let first = state.withLockedValue { state -> Bool in
            guard state.headSent, !state.ended else { return false }
            state.ended = true
            return true
        }
        guard first else { return }
        try await write([.end(nil)])
    }

    /// 100 Continue, for a client that waits for it before sending its body (curl does for large bodies).
    func sendContinue() async throws {
        try await outbound.write(.head(HTTPResponseHead(version: version, status: .continue)))
    }
}

/// Why the daemon ended a request before it finished by itself.
enum RequestEnding: Sendable, Equatable {
    /// The client closed the connection.
    case clientLeft
    /// GIGACHATD_REQUEST_TIMEOUT passed.
    case deadline
    /// The client read nothing for GIGACHATD_CLIENT_STALL_TIMEOUT.
    case clientStall
    /// The daemon is shutting down and the drain time is over.
    case shutdown
}

/// How to stop the running request, and the reason it was ended early; shared by the connection's
/// watchers (close, deadline, stall, drain) and the request itself.
final class RequestControl: Sendable {
    private struct State {
        var cancel: (@Sendable () -> Void)?
        var ending: RequestEnding?
    }

    private let state = NIOLockedValueBox(State())

    init() {}

    func attach(cancel: @escaping @Sendable () -> Void) {
        let cancelNow = state.withLockedValue { state -> Bool in
            state.cancel = cancel
            return state.ending != nil
        }
        if cancelNow { cancel() }
    }

    /// Ends the request for `reason` unless it was already ended; the first reason is kept.
    func end(_ reason: RequestEnding) {
        let cancel = state.withLockedValue { state -> (@Sendable () -> Void)? in
            guard state.ending == nil else { return nil }
            state.ending = reason
            return state.cancel
        }
        cancel?()
    }

    var ending: RequestEnding? { state.withLockedValue { $0.ending } }
}
