import Foundation
import GigaChatAPI
import GigaChatOpenAI
import GigaChatProtocol
import Logging
import NIOCore

/// The daemon's side of the OpenAI-compatible HTTP front end: its listeners, bound under the same rules
/// as the JSON-RPC socket (private directory, 0600 socket, stale sockets replaced, live ones never stolen,
/// the peer's uid checked on every connection), served beside it and drained with it.
struct HTTPFrontEnd: Sendable {
    let server: OpenAIServer
    let listeners: [OpenAIServer.Listener]
    /// Socket files we created (and so remove on exit), with their inodes.
    let createdSockets: [SocketFile]

    static func start(
        settings: OpenAISettings, limits: CurrentSettings, upstream: UpstreamService, statistics: DaemonStatistics, usage: UsageAccounting,
        group: any EventLoopGroup, logger: Logger
    ) async throws -> HTTPFrontEnd {
        var key: LocalKey?
        do {
            if settings.tcp != nil, let keyFile = settings.keyFile {
                key = try LocalKey.loadOrCreate(path: keyFile)
            }
        } catch {
            throw SocketSetupError(.settings, error.message)
        }
        let server = OpenAIServer(
            settings: settings,
            key: key,
            client: { await upstream.client },
            limits: { limits.value.frontEndLimits },
            peerCheck: { channel in
                guard let peer = await PeerCredentials.of(channel) else { return .gone }
                return PeerCredentials.isAllowed(peer.uid) ? .allowed(pid: peer.pid) : .refused(uid: peer.uid)
            },
            requestFinished: { summary in
                await statistics.requestFinished(upstreamError: summary.upstreamError)
                usage.record(summary)
            },
            logger: logger
        )
        var listeners: [OpenAIServer.Listener] = []
        var created: [SocketFile] = []
        do {
            if let passed = SocketActivation.takeHTTPSocket() {
                listeners.append(try await server.bind(descriptor: passed.descriptor, address: passed.path ?? passed.name, group: group))
            } else if let path = settings.socketPath {
                try SocketDirectory.prepare(SocketPath(path: path, source: .environment))
                try SocketDirectory.clearStale(path)
                // Created 0600 from the start: no window in which another user could connect.
                let previousMask = umask(0o177)
                defer { umask(previousMask) }
                listeners.append(try await server.bind(unixSocketPath: path, group: group))
                var info = stat()
                created.append(SocketFile(path: path, inode: lstat(path, &info) == 0 ? UInt64(info.st_ino) : 0))
            }
            if let address = settings.tcp {
                listeners.append(try await server.bind(tcp: address, group: group))
            }
        } catch {
            for listener in listeners { await listener.close() }
            for file in created { file.remove() }
            if let setup = error as? SocketSetupError { throw setup }
            throw SocketSetupError(.listen, "cannot serve HTTP: \(error)")
        }
        for listener in listeners {
            logger.notice("serving the OpenAI-compatible HTTP API", metadata: ["address": "\(listener.address)"])
        }
        return HTTPFrontEnd(server: server, listeners: listeners, createdSockets: created)
    }

    /// Serves every listener until each is closed and its connections are done.
    func serve(logger: Logger) async {
        await withDiscardingTaskGroup { group in
            for listener in listeners {
                group.addTask {
                    do {
                        try await server.serve(listener)
                    } catch {
                        logger.error("HTTP listener failed", metadata: ["address": "\(listener.address)", "error": "\(error)"])
                    }
                }
            }
        }
    }

    /// Stops accepting; idle connections close, busy ones after their response.
    func beginDrain() async {
        for listener in listeners { await listener.close() }
        await server.beginDrain()
    }

    func waitUntilIdle() async {
        await server.waitUntilIdle()
    }

    /// Ends whatever still runs and closes everything.
    func endAll() async {
        for listener in listeners { await listener.close() }
        await server.endAll()
    }

    /// New model aliases on reload (the listeners stay as they are).
    func apply(_ settings: OpenAISettings) {
        server.update(settings)
    }

    func removeSockets() {
        for file in createdSockets { file.remove() }
    }
}
