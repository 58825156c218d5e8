import NIOCore

/// The daemon's phase, and the open connections it must drain or close on shutdown.
actor Lifecycle {
    enum State: String, Sendable {
        case starting, running, reloading, draining
    }

    private(set) var state = State.starting
    private var connections: [ObjectIdentifier: (channel: any Channel, requests: ConnectionRequests)] = [:]

    var acceptsRequests: Bool { state != .draining }

    func set(_ newState: State) {
        // Draining is final: a late reload must not reopen the door.
        if state == .draining { return }
        state = newState
    }

    func opened(_ channel: any Channel, requests: ConnectionRequests) {
        connections[ObjectIdentifier(requests)] = (channel, requests)
    }

    func closed(_ requests: ConnectionRequests) {
        connections[ObjectIdentifier(requests)] = nil
    }

    /// Requests still running on all connections.
    func runningRequests() async -> Int {
        var total = 0
        for entry in connections.values { total += await entry.requests.count }
        return total
    }

    /// Ends what is still running (each request answers with its own error) and closes every connection.
    func cancelAndCloseAll() async {
        for entry in connections.values {
            await entry.requests.cancelAll()
        }
        for entry in connections.values {
            await entry.requests.waitForAll()
            entry.channel.close(promise: nil)
        }
    }
}
