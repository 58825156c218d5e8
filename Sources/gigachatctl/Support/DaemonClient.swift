import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A blocking JSON-RPC connection to gigachatd.
///
/// Ctrl-C is blocked and polled for as a pending signal while waiting on the socket (see `Interrupts`), so
/// an interrupted stream can send `cancel` and still read its request's final line. The socket is
/// non-blocking and every wait has a deadline, so a daemon that accepts and never answers (one that
/// cannot start under systemd, a stuck process) cannot hang the client.
final class DaemonClient {
    enum Event {
        case message(RPCMessage, line: [UInt8])
        case interrupted
        case closed
    }

    let socketPath: String
    private let socketFD: Int32
    /// How often a blocked Ctrl-C is looked for while no data arrives.
    private static let interruptPollMilliseconds = 50
    /// How long a cancelled request (Ctrl-C, --timeout) gets to send its final line.
    private static let cancelGrace: Duration = .seconds(2)
    /// A silent daemon is asked for its status after this long (or half the first-line limit, if less),
    /// so a long request that legitimately sends nothing for a while still proves the daemon alive.
    private static let probeDelay: Duration = .seconds(1)
    private var buffer = LineBuffer(maxLineBytes: 512 * 1024 * 1024)
    private var ready: [[UInt8]] = []
    private var nextID: Int64 = 0
    /// Whether the daemon has sent anything at all on this connection: until then, a closed connection
    /// means it never started.
    private(set) var heardFrom = false
    /// Ids of the requests the client sends on its own (liveness probes, cancels): their answers are
    /// not the caller's, and --json does not print them.
    private var internalIDs: Set<RPCID> = []
    /// Lines for the caller's requests are passed to this (for --json output); the liveness probe's
    /// answer is not.
    var rawLineObserver: (([UInt8]) -> Void)?
    /// Called when every line received so far has been handled and the client is about to wait for more:
    /// the moment to flush buffered output.
    var willWait: (() -> Void)?

    /// Connects within `timeout` (nil: no limit). A socket held by systemd accepts at once even when
    /// the daemon cannot start; a full backlog makes connect() fail with EAGAIN until there is room.
    init(socketPath: String, timeout: Duration? = nil) throws(ConnectError) {
        try SocketTrust.checkPath(socketPath)
        self.socketPath = socketPath
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd = socket(AF_UNIX, flags, 0)
        guard fd >= 0 else { throw ConnectError(.unreachable, cause: .lastErrno) }
        do {
            try Self.connect(fd, to: socketPath, deadline: timeout.map { ContinuousClock.now + $0 })
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

    private static func connect(_ fd: Int32, to path: String, deadline: ContinuousClock.Instant?) throws(ConnectError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ConnectError(.unreachable, "socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        while true {
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if result == 0 { return }
            let code = errno
            switch code {
            case EINTR:
                continue
            case EAGAIN:
                // The listener's backlog is full: nobody is accepting. Try again until the deadline.
                if let deadline, ContinuousClock.now >= deadline {
                    throw ConnectError(.noAnswer, "the socket accepts no connections (its backlog is full)")
                }
                if Interrupts.takePending() { throw ConnectError(.interrupted, "interrupted") }
                _ = poll(nil, 0, 20)
            case EINPROGRESS:
                try waitForConnect(fd, deadline: deadline)
                return
            default:
                throw ConnectError(.unreachable, cause: .errno(code))
            }
        }
    }

    private static func waitForConnect(_ fd: Int32, deadline: ContinuousClock.Instant?) throws(ConnectError) {
        while true {
            var fds = [pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)]
            let count = poll(&fds, 1, Self.slice(until: deadline))
            if count < 0, errno != EINTR { throw ConnectError(.unreachable, cause: .lastErrno) }
            if count > 0 {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else {
                    throw ConnectError(.unreachable, cause: .lastErrno)
                }
                guard error == 0 else { throw ConnectError(.unreachable, cause: .errno(error)) }
                return
            }
            if let deadline, ContinuousClock.now >= deadline {
                throw ConnectError(.noAnswer, "the socket did not accept the connection")
            }
        }
    }

    /// Milliseconds to poll for: the interrupt poll interval, or less when the deadline is nearer.
    private static func slice(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return Int32(interruptPollMilliseconds) }
        let left = Durations.milliseconds(deadline - ContinuousClock.now)
        return Int32(max(0, min(Int64(interruptPollMilliseconds), left)))
    }

    /// A fresh request id.
    func makeID() -> RPCID {
        nextID += 1
        return .int(nextID)
    }

    /// Writes a request, waiting for room in the socket until `deadline`.
    func send(_ request: RPCRequest, deadline: ContinuousClock.Instant? = nil) throws(ConnectError) {
        let bytes = request.line
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(socketFD, raw.baseAddress.map { $0 + offset }, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written >= 0 {
                offset += written
                continue
            }
            let code = errno
            switch code {
            case EINTR:
                continue
            case EAGAIN:
                // The daemon is not reading: wait for room, but not forever.
                if let deadline, ContinuousClock.now >= deadline {
                    throw ConnectError(.noAnswer, "the daemon does not read its socket")
                }
                var fds = [pollfd(fd: socketFD, events: Int16(POLLOUT), revents: 0)]
                _ = poll(&fds, 1, Self.slice(until: deadline))
            case EPIPE, ECONNRESET:
                throw closedError(ErrorCause.errno(code).description)
            default:
                throw ConnectError(.lost, cause: .errno(code))
            }
        }
    }

    /// The connection ended: if the daemon never said a word, it most likely could not start (systemd
    /// accepted the connection on its behalf, then gave up).
    private func closedError(_ detail: String) -> ConnectError {
        heardFrom
            ? ConnectError(.lost, "gigachatd closed the connection before answering")
            : ConnectError(.notStarted, detail)
    }

    /// Waits for the next line from the daemon, or Ctrl-C, until `deadline` (nil: no limit; nil result:
    /// the deadline passed).
    func next(until deadline: ContinuousClock.Instant? = nil) throws(ConnectError) -> Event? {
        while ready.isEmpty {
            willWait?()
            if Interrupts.takePending() { return .interrupted }
            // A deadline that has passed still gets a look at what already arrived.
            var fds = [pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0)]
            let count = poll(&fds, 1, Self.slice(until: deadline))
            if count < 0 {
                if errno == EINTR { continue }
                throw ConnectError(.lost, cause: .lastErrno)
            }
            if count == 0 {
                if let deadline, ContinuousClock.now >= deadline { return nil }
                continue
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let received = chunk.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress, $0.count, 0) }
            if received < 0 {
                let code = errno
                if code == EINTR || code == EAGAIN { continue }
                if code == ECONNRESET { throw closedError(ErrorCause.errno(code).description) }
                throw ConnectError(.lost, cause: .errno(code))
            }
            if received == 0 {
                if heardFrom { return .closed }
                throw closedError("closed without a word")
            }
            heardFrom = true
            for output in buffer.append(chunk[0..<received]) {
                switch output {
                case .line(let line): ready.append(line)
                case .overflow: throw ConnectError(.lost, "the daemon sent an over-long line")
                }
            }
        }
        let line = ready.removeFirst()
        do {
            return .message(try RPCMessage(line: line), line: line)
        } catch {
            throw ConnectError(.lost, error.message)
        }
    }

    /// Sends a request and waits for its final response, passing notifications for it to `onNotification`.
    ///
    /// Ctrl-C sends `cancel` for it, waits briefly for its final line, and reports `.interrupted`; the
    /// total limit does the same and reports `.timedOut`. Until the daemon has said anything on this
    /// connection, it must say something within `limits.firstLine`: a request that makes it wait (a
    /// long reply without streaming, an upload) is followed by a `status` request whose answer proves
    /// it alive.
    func call(
        _ method: String,
        params: JSONObject = [:],
        limits: CallLimits = CallLimits(),
        onNotification: (String, JSONObject) -> Void = { _, _ in }
    ) throws(ConnectError) -> CallOutcome {
        let start = ContinuousClock.now
        let id = makeID()
        let total = limits.total.map { start + $0 }
        let alive = heardFrom ? nil : limits.firstLine.map { start + $0 }
        try send(RPCRequest(id: id, method: method, params: params), deadline: Self.earliest(alive, total))
        var probeAt: ContinuousClock.Instant?
        if let firstLine = limits.firstLine, !heardFrom, method != RPCMethod.status {
            probeAt = start + min(Self.probeDelay, firstLine / 2)
        }
        var stopping: CallOutcome?
        var grace: ContinuousClock.Instant?

        func stop(_ outcome: CallOutcome) {
            stopping = outcome
            grace = ContinuousClock.now + Self.cancelGrace
            let cancel = makeID()
            internalIDs.insert(cancel)
            try? send(RPCRequest(id: cancel, method: RPCMethod.cancel, params: ["id": id.json]), deadline: grace)
        }

        while true {
            let wake = Self.earliest(heardFrom ? nil : alive, stopping == nil ? total : nil, heardFrom ? nil : probeAt, grace)
            guard let event = try next(until: wake) else {
                let now = ContinuousClock.now
                if let grace, now >= grace, let stopping { return stopping }  // the daemon did not confirm
                if !heardFrom, let alive, now >= alive {
                    throw ConnectError(.noAnswer, "it accepted the connection but said nothing")
                }
                if stopping == nil, let total, now >= total {
                    stop(.timedOut)
                    continue
                }
                if !heardFrom, let at = probeAt, now >= at {
                    probeAt = nil
                    let probe = makeID()
                    internalIDs.insert(probe)
                    try send(RPCRequest(id: probe, method: RPCMethod.status), deadline: alive)
                }
                continue
            }
            switch event {
            case .interrupted:
                if stopping != nil { return .interrupted }
                stop(.interrupted)
            case .closed:
                throw closedError("closed")
            case .message(let message, let line):
                if case .response(let responseID?, _) = message, internalIDs.remove(responseID) != nil { continue }
                rawLineObserver?(line)
                switch message {
                case .notification(let method, let params):
                    if params["id"] == id.json { onNotification(method, params) }
                case .response(let responseID, let result):
                    guard responseID == id || responseID == nil else { continue }
                    if let stopping { return stopping }
                    return .finished(result)
                }
            }
        }
    }

    private static func earliest(_ instants: ContinuousClock.Instant?...) -> ContinuousClock.Instant? {
        instants.compactMap { $0 }.min()
    }
}

/// How a call ended.
enum CallOutcome {
    case finished(Result<JSONValue, RPCError>)
    /// Ctrl-C: the request was cancelled.
    case interrupted
    /// The total time limit (--timeout) passed: the request was cancelled.
    case timedOut
}
