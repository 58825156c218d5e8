#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import GigaChatProtocol

/// Why a connection to the daemon failed, in a few words.
struct ConnectError: Error {
    let reason: String
    /// The socket is not the user's own daemon (see SocketTrust): `reason` is the whole message, advice
    /// included, and nothing was sent.
    var untrusted = false
}

/// A blocking JSON-RPC connection to gigachatd.
///
/// Ctrl-C is blocked and polled for as a pending signal while waiting on the socket (see `Interrupts`), so
/// an interrupted stream can send `cancel` and still read its request's final line.
final class DaemonClient {
    enum Event {
        case message(RPCMessage)
        case interrupted
        case closed
    }

    private let socketFD: Int32
    /// How often a blocked Ctrl-C is looked for while no data arrives.
    private static let interruptPollMilliseconds: Int32 = 50
    private var buffer = LineBuffer(maxLineBytes: 512 * 1024 * 1024)
    private var ready: [[UInt8]] = []
    private var nextID: Int64 = 0
    /// Lines are passed to this before parsing (for --json output).
    var rawLineObserver: (([UInt8]) -> Void)?
    /// Called when every line received so far has been handled and the client is about to wait for more:
    /// the moment to flush buffered output.
    var willWait: (() -> Void)?

    init(socketPath: String) throws(ConnectError) {
        try SocketTrust.checkPath(socketPath)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ConnectError(reason: String(cString: strerror(errno))) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw ConnectError(reason: "socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ConnectError(reason: reason)
        }
        do {
            try SocketTrust.checkPeer(fd, socketPath: socketPath)
        } catch {
            close(fd)
            throw error
        }
        socketFD = fd
        Interrupts.block()
    }

    deinit {
        close(socketFD)
    }

    /// A fresh request id.
    func makeID() -> RPCID {
        nextID += 1
        return .int(nextID)
    }

    func send(_ request: RPCRequest) throws(ConnectError) {
        let bytes = request.line
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(socketFD, raw.baseAddress.map { $0 + offset }, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw ConnectError(reason: String(cString: strerror(errno)))
            }
            offset += written
        }
    }

    /// Waits for the next line from the daemon, or Ctrl-C. `timeoutMilliseconds` < 0 waits forever.
    func next(timeoutMilliseconds: Int32 = -1) throws(ConnectError) -> Event? {
        var waited: Int32 = 0
        while ready.isEmpty {
            willWait?()
            if Interrupts.takePending() { return .interrupted }
            var fds = [pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0)]
            let slice = timeoutMilliseconds < 0 ? Self.interruptPollMilliseconds : min(Self.interruptPollMilliseconds, timeoutMilliseconds - waited)
            let count = poll(&fds, 1, slice)
            if count < 0 {
                if errno == EINTR { continue }
                throw ConnectError(reason: String(cString: strerror(errno)))
            }
            if count == 0 {
                waited += slice
                if timeoutMilliseconds >= 0, waited >= timeoutMilliseconds { return nil }
                continue
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let received = chunk.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress, $0.count, 0) }
            if received < 0 {
                if errno == EINTR { continue }
                throw ConnectError(reason: String(cString: strerror(errno)))
            }
            if received == 0 { return .closed }
            for output in buffer.append(chunk[0..<received]) {
                switch output {
                case .line(let line): ready.append(line)
                case .overflow: throw ConnectError(reason: "the daemon sent an over-long line")
                }
            }
        }
        let line = ready.removeFirst()
        rawLineObserver?(line)
        do {
            return .message(try RPCMessage(line: line))
        } catch {
            throw ConnectError(reason: error.message)
        }
    }

    /// Sends a request and waits for its final response, passing notifications for it to `onNotification`.
    /// Ctrl-C sends `cancel` for it, waits briefly for its final line, and reports `.interrupted`.
    /// `timeoutMilliseconds` (for shell completion, which must never hang) gives up like Ctrl-C does.
    func call(
        _ method: String,
        params: JSONObject = [:],
        timeoutMilliseconds: Int32 = -1,
        onNotification: (String, JSONObject) -> Void = { _, _ in }
    ) throws(ConnectError) -> CallOutcome {
        let id = makeID()
        try send(RPCRequest(id: id, method: method, params: params))
        var interrupted = false
        while true {
            guard let event = try next(timeoutMilliseconds: interrupted ? 2000 : timeoutMilliseconds) else {
                // No answer in time: a cancel the daemon did not confirm, or the caller's deadline.
                return .interrupted
            }
            switch event {
            case .interrupted:
                if interrupted { return .interrupted }
                interrupted = true
                try? send(RPCRequest(id: makeID(), method: RPCMethod.cancel, params: ["id": id.json]))
            case .closed:
                throw ConnectError(reason: "the daemon closed the connection before answering")
            case .message(.notification(let method, let params)):
                if params["id"] == id.json { onNotification(method, params) }
            case .message(.response(let responseID, let result)):
                guard responseID == id || responseID == nil else { continue }  // e.g. the cancel's own reply
                if interrupted { return .interrupted }
                return .finished(result)
            }
        }
    }
}

/// How a call ended.
enum CallOutcome {
    case finished(Result<JSONValue, RPCError>)
    case interrupted
}
