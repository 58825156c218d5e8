import NIOCore

/// The daemon's phase, and the open connections it must drain or close on shutdown.
actor Lifecycle {
    enum State: String, Sendable {
        case starting, running, reloading, draining
    }

    private(set) var state = State.starting
    private var connections: [ObjectIdentifier: (channel: any Channel, requests: ConnectionRequests)] = [:]
    /// Set once the drain gave up waiting: a connection that registers after that is closed at once.
    private var closingAll = false
    /// A second SIGTERM or SIGINT during the drain: stop waiting for running requests.
    private(set) var hurry = false
    /// Why the last reload failed, until one succeeds; shown in STATUS= so `systemctl status` tells.
    private(set) var reloadError: String?

    var acceptsRequests: Bool { state != .draining }

    func set(_ newState: State) {
        // Draining is final: a late reload must not reopen the door.
        if state == .draining { return }
        state = newState
    }

    func hurryDrain() { hurry = true }

    func reloadFinished(error: String?) { reloadError = error }

    func opened(_ channel: any Channel, requests: ConnectionRequests) {
        if closingAll {
            // Accepted just before the listener closed: nothing will ever wait for it, so end it now.
            channel.close(promise: nil)
            return
        }
        connections[ObjectIdentifier(requests)] = (channel, requests)
    }

    func closed(_ requests: ConnectionRequests) {
        connections[ObjectIdentifier(requests)] = nil
    }

    /// True once the daemon stopped waiting and is ending what still runs (drain timeout, or the listener
    /// failed): requests failing from now on were ended by the daemon, not by their client.
    var endingRemainingRequests: Bool { closingAll }

    /// Requests still running on all connections.
    func runningRequests() async -> Int {
        var total = 0
        for entry in connections.values { total += await entry.requests.count }
        return total
    }

    /// Ends what is still running (each request answers with its own error) and closes every connection.
    func cancelAndCloseAll() async {
        closingAll = true
        let entries = Array(connections.values)
        for entry in entries {
            await entry.requests.cancelAll()
        }
        for entry in entries {
            await entry.requests.waitForAll()
            entry.channel.close(promise: nil)
        }
    }
}
