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
    private var hurryWaiters: [CheckedContinuation<Void, Never>] = []
    /// The signal that asked for the shutdown, for the drain's log line.
    private(set) var stopSignal: String?
    /// Why the last reload failed, until one succeeds; shown in STATUS= so `systemctl status` tells.
    private(set) var reloadError: String?

    var acceptsRequests: Bool { state != .draining }

    func set(_ newState: State) {
        // Draining is final: a late reload must not reopen the door.
        if state == .draining { return }
        state = newState
    }

    func stopRequested(by signal: String) {
        if stopSignal == nil { stopSignal = signal }
    }

    /// Stops the drain's wait for running requests (a second stop signal, or the wait is over anyway).
    func hurryDrain() {
        hurry = true
        let waiters = hurryWaiters
        hurryWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `hurryDrain` was called.
    func waitForHurry() async {
        if hurry { return }
        await withCheckedContinuation { hurryWaiters.append($0) }
    }

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

    /// Returns once no request runs on any connection, or once the daemon ends them all.
    func waitUntilIdle() async {
        while !closingAll, let busy = await firstBusyConnection() {
            await busy.waitForAll()
        }
    }

    private func firstBusyConnection() async -> ConnectionRequests? {
        for entry in connections.values {
            if await entry.requests.count > 0 { return entry.requests }
        }
        return nil
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
