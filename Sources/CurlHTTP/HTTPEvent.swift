/// What an ``HTTPTransfer`` yields: the response head once, then body bytes in order.
public enum HTTPEvent: Sendable {
    case head(HTTPResponseHead)
    case body([UInt8])
}
