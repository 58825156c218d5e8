import CurlHTTP
import GigaChatProtocol

extension GigaChatClient {
    /// The start of a forwarded reply: what the caller needs to answer its own client with.
    public struct ForwardedHead: Sendable {
        public var status: Int
        public var contentType: String?
    }

    /// Sends `call` through the same queue, token, 401 refresh and retries as every other call, and passes
    /// a successful reply on as it arrives, without reading it: for relaying GigaChat's own REST API.
    ///
    /// `onHead` runs once for a 2xx reply, then `onBody` for each piece of the body. A failure before
    /// `onHead` is an ordinary `APIError` (with the API's status and message for an HTTP error); after it,
    /// `.truncated` (the reply broke off) or `.cancelled` (a callback threw: the client went away).
    public func forward(
        _ call: APICall,
        onHead: @escaping @Sendable (ForwardedHead) async throws -> Void,
        onBody: @escaping @Sendable ([UInt8]) async throws -> Void
    ) async throws(APIError) {
        try await perform(call) { head, iterator in
            do {
                try await onHead(ForwardedHead(status: head.status, contentType: head.header("Content-Type")))
            } catch {
                throw APIError(.cancelled, "the client went away")
            }
            do {
                while let event = try await iterator.next() {
                    guard case .body(let bytes) = event else { continue }
                    do {
                        try await onBody(bytes)
                    } catch {
                        throw APIError(.cancelled, "the client went away")
                    }
                }
            } catch let error as CurlError {
                if error.kind == .cancelled { throw APIError(.cancelled, "request cancelled") }
                // The head went out already: too late to retry, the reply is cut off.
                throw APIError(.truncated, "the reply from GigaChat broke off: \(error.message)")
                    .withKind(error.kind == .timedOut ? .timedOut : .truncated)
            }
        }
    }
}
