import ArgumentParser
import GigaChatProtocol

/// Options every subcommand shares: where the daemon is and how to print.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Daemon socket (default: $GIGACHATD_SOCKET, else $XDG_RUNTIME_DIR/gigachat/gigachatd.sock).", valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Print the raw protocol lines (JSON, one object per line) instead of text.")
    var json = false

    var socketPath: SocketPath { SocketPath.resolve(flag: socket) }

    /// Connects, or reports how to start the daemon and fails with the documented exit code.
    func connect() throws -> DaemonClient {
        let path = socketPath
        do {
            return try DaemonClient(socketPath: path.path)
        } catch where error.untrusted {
            Output.error(error.reason)
            throw ReportedFailure(exitCode: ClientExit.daemonUnavailable)
        } catch {
            Output.error(
                "cannot connect to gigachatd at \(path.path) (\(error.reason)); is it running? "
                    + "Start it with: systemctl --user start gigachatd.socket (or run gigachatd)"
            )
            throw ReportedFailure(exitCode: ClientExit.daemonUnavailable)
        }
    }
}
