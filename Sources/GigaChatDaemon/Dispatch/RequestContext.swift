import GigaChatProtocol

/// What a method handler gets besides its params: who is asking and how to stream to them.
struct RequestContext: Sendable {
    /// nil for a notification.
    let id: RPCID?
    /// Who sent it (SO_PEERCRED): files are opened as this user could.
    let peer: PeerCredentials
    /// The connection the request came on, for `cancel`.
    let connection: ConnectionRequests
    /// Sends notification lines to this request's client in one write, waiting while the client reads
    /// slowly. Throws when the client is gone.
    let notify: @Sendable ([RPCMessage]) async throws -> Void
}
