import ArgumentParser
import GigaChatProtocol

/// Options every subcommand shares: where the daemon is, how long to wait for it, and how to print.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Daemon socket (default: $GIGACHATD_SOCKET, else $XDG_RUNTIME_DIR/gigachat/gigachatd.sock).", valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Print the raw protocol lines (JSON, one object per line) instead of text.")
    var json = false

    @Option(
        name: .long,
        parsing: .unconditional,
        help: ArgumentHelp(
            "Give up if gigachatd has not said a word after this many seconds (default: \(Durations.text(seconds: CallLimits.defaultFirstLineSeconds))).",
            valueName: "seconds"
        )
    )
    var connectTimeout: Double?

    @Option(
        name: .long,
        parsing: .unconditional,
        help: ArgumentHelp("Give up (and cancel) if the whole request takes longer than this many seconds (default: no limit).", valueName: "seconds")
    )
    var timeout: Double?

    func validate() throws {
        if let socket, socket.isEmpty { throw ValidationError("--socket needs a path, not an empty string") }
        if let connectTimeout, !(connectTimeout > 0) {
            throw ValidationError("--connect-timeout must be a number of seconds above 0 (got \(connectTimeout))")
        }
        if let timeout, !(timeout > 0) {
            throw ValidationError("--timeout must be a number of seconds above 0 (got \(timeout))")
        }
    }

    var socketPath: SocketPath { SocketPath.resolve(flag: socket) }

    var limits: CallLimits {
        var limits = CallLimits()
        if let connectTimeout { limits.firstLine = Durations.from(seconds: connectTimeout) }
        limits.total = timeout.map { Durations.from(seconds: $0) }
        return limits
    }

    private var firstLineSeconds: Double { connectTimeout ?? CallLimits.defaultFirstLineSeconds }

    /// Connects, or says why not and fails with the documented exit code.
    func connect() throws -> DaemonClient {
        do {
            return try DaemonClient(socketPath: socketPath.path, timeout: limits.firstLine)
        } catch {
            throw report(error)
        }
    }

    /// Says what went wrong with the daemon connection in one line; the failure to throw carries the
    /// exit code.
    func report(_ error: ConnectError) -> ReportedFailure {
        let path = socketPath.path
        switch error.kind {
        case .unreachable:
            Output.error(
                "cannot connect to gigachatd at \(path) (\(error.message)); is it running? "
                    + "Start it with: systemctl --user start gigachatd.socket (or run gigachatd)"
            )
        case .untrusted:
            Output.error(error.message)
        case .notStarted:
            Output.error(
                "gigachatd could not start: see systemctl --user status gigachatd "
                    + "(the connection to \(path) was closed before any answer)"
            )
        case .noAnswer:
            Output.error(
                "gigachatd at \(path) did not answer within \(Durations.text(seconds: firstLineSeconds)) "
                    + "(--connect-timeout): \(error.message); it may be stuck or unable to start: "
                    + "see systemctl --user status gigachatd"
            )
        case .lost:
            Output.error("lost the connection to gigachatd: \(error.message)")
        case .interrupted:
            return ReportedFailure(exitCode: ClientExit.interrupted)
        }
        return ReportedFailure(exitCode: ClientExit.daemonUnavailable)
    }
}
