import GigaChatAPI
import Logging

/// A SIGHUP: reads the configuration and credentials again and applies what may change while running.
/// A bad setting refuses the whole reload; the daemon keeps serving with what it had.
struct Reloader: Sendable {
    let parts: DaemonParts
    /// What a reload reads (see `Daemon.reloadSources`).
    let sources: SettingsSources
    /// The socket the daemon listens on, which only a restart can move.
    let socketPath: String

    func reload() async {
        let lifecycle = parts.lifecycle
        parts.notifier.reloading(status: "reloading configuration and credentials")
        await lifecycle.set(.reloading)
        parts.logger.notice("reloading configuration and credentials")
        var failure: String?
        do {
            // Everything is read and checked before anything changes, so one bad setting refuses the
            // whole reload.
            let settings = try SettingsLoader.load(sources)
            if settings.daemon.socket.path != socketPath {
                parts.logger.warning("the socket path cannot change on reload; restart gigachatd to move it")
            }
            try await parts.upstream.reload(settings.api, daemon: settings.daemon)
            parts.settings.replace(with: settings.daemon)
            parts.http.apply(settings.http)
            parts.logger.notice("configuration reloaded")
        } catch let error as ConfigurationError {
            failure = error.message
        } catch {
            failure = "\(error)"
        }
        if let failure {
            parts.logger.error("reload failed; still serving with the previous configuration", metadata: ["error": "\(failure)"])
        }
        await lifecycle.reloadFinished(error: failure)
        await lifecycle.set(.running)
        let status = await parts.snapshot().statusLine
        parts.notifier.send("READY=1\nSTATUS=\(SystemdNotifier.oneLine(status))")
    }
}
