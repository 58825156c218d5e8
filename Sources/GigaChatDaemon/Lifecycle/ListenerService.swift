import GigaChatProtocol
import Glibc
import Logging
import NIOCore
import ServiceLifecycle

/// Serves the JSON-RPC socket and the HTTP front end until a graceful shutdown, then drains both.
///
/// Last in the service group, so it is the first to be shut down: no new connections or requests, the
/// running ones get up to GIGACHATD_DRAIN_TIMEOUT to finish (a second stop signal cuts that short), and
/// what is left after that is ended with an error response. The token refresher behind it keeps
/// running until the drain is over.
struct ListenerService: Service {
    let parts: DaemonParts
    let listener: RPCListener
    let connection: Connection

    func run() async throws {
        let lifecycle = parts.lifecycle
        let http = parts.http
        let failure: String? = await withDiscardingTaskGroup { tasks in
            tasks.addTask { await http.serve(logger: parts.logger) }
            tasks.addTask {
                // Cancelled only when the listener failed, which ends everything below without a drain.
                guard (try? await gracefulShutdown()) != nil else { return }
                await drain()
            }
            var failure: String?
            do {
                try await listener.channel.executeThenClose { inbound in
                    let slots = ConnectionSlots()
                    for try await client in inbound {
                        await slots.acquire()
                        tasks.addTask {
                            await connection.serve(client)
                            await slots.release()
                        }
                    }
                }
            } catch {
                failure = "\(error)"
            }
            // The listener closes for a drain; anything else is a failure, and the clients still
            // connected must not keep the daemon alive after it.
            if await lifecycle.acceptsRequests {
                await lifecycle.set(.draining)
                await lifecycle.cancelAndCloseAll()
                await http.endAll()
                tasks.cancelAll()
                return failure ?? "the listening socket closed"
            }
            return nil
        }
        if let failure {
            parts.logger.error("accepting connections failed", metadata: ["error": "\(failure)"])
            throw SocketSetupError(.listen, "accepting connections on \(listener.path) failed: \(failure)")
        }
    }

    private func drain() async {
        let lifecycle = parts.lifecycle
        let http = parts.http
        await lifecycle.set(.draining)
        let timeout = parts.settings.value.drainTimeoutSeconds
        let count = await lifecycle.runningRequests()
        parts.notifier.stopping(status: "shutting down: draining \(count) request(s), at most \(Self.seconds(timeout))")
        if timeout > 0 {
            // TimeoutStopSec= may be shorter than a drain someone configured; ask for what we need.
            parts.notifier.extendTimeout(by: Durations.from(seconds: timeout) + .seconds(5))
        }
        let signal = await lifecycle.stopSignal ?? "none"
        parts.logger.notice(
            "shutting down: refusing new requests, draining", metadata: ["signal": "\(signal)", "running": "\(count)", "timeout_s": "\(timeout)"]
        )
        try? await listener.channel.channel.close()
        await http.beginDrain()
        // Whichever comes first: every request ended, the drain time is over, or a second stop signal.
        await withTaskGroup(of: Void.self) { race in
            race.addTask {
                await lifecycle.waitUntilIdle()
                await http.waitUntilIdle()
            }
            race.addTask { try? await Task.sleep(for: Durations.from(seconds: timeout)) }
            race.addTask { await lifecycle.waitForHurry() }
            await race.next()
            let left = await lifecycle.runningRequests()
            if left > 0 {
                parts.logger.warning("drain ended; answering the remaining requests with an error", metadata: ["running": "\(left)"])
            }
            // Ending what is left also ends the waits above.
            race.cancelAll()
            await lifecycle.hurryDrain()
            await lifecycle.cancelAndCloseAll()
            await http.endAll()
        }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

/// The JSON-RPC socket, bound or adopted.
struct RPCListener: Sendable {
    let channel: NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>
    let activated: Bool
    /// Where clients connect, for messages.
    let path: String
    /// The socket file we created (and so may remove), with its inode. nil for a socket systemd passed:
    /// its file belongs to gigachatd.socket and stays when we exit.
    let createdPath: SocketFile?
}

/// A socket file we created, with its inode, so we remove it on exit only if it is still ours.
struct SocketFile: Sendable {
    let path: String
    let inode: UInt64

    func remove() {
        var info = stat()
        guard lstat(path, &info) == 0, UInt64(info.st_ino) == inode else { return }
        unlink(path)
    }
}
