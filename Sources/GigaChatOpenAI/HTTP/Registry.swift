import NIOConcurrencyHelpers
import NIOCore

/// The front end's open connections and running requests: for the daemon-wide request cap and for the
/// drain (idle connections close at once, busy ones after their response, and what still
/// runs when the drain time is over is ended).
actor Registry {
    final class Entry: Sendable {
        let channel: any Channel
        /// The request running on this connection now, if any.
        let current: CurrentRequest

        init(channel: any Channel) {
            self.channel = channel
            current = CurrentRequest()
        }
    }

    private struct Slot {
        let entry: Entry
        var busy = false
        /// Request-body bytes this connection holds now (read, or being answered).
        var held = 0
    }

    private var entries: [ObjectIdentifier: Slot] = [:]
    private(set) var draining = false
    private(set) var running = 0
    /// Request-body bytes all connections hold, capped like the JSON-RPC side's request lines.
    private(set) var heldBytes = 0
    /// Drains waiting for the running requests to end.
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    /// Registers a new connection; nil when the daemon is shutting down (the caller closes it).
    func opened(_ channel: any Channel) -> Entry? {
        guard !draining else { return nil }
        let entry = Entry(channel: channel)
        entries[ObjectIdentifier(entry)] = Slot(entry: entry)
        return entry
    }

    func closed(_ entry: Entry) {
        guard let slot = entries.removeValue(forKey: ObjectIdentifier(entry)) else { return }
        if slot.busy { running -= 1 }
        heldBytes -= slot.held
        wakeIdleWaiters()
    }

    /// Counts `count` more body bytes for `entry`; false when that would pass `limit` across all connections
    /// (one request is always let through, however large, as on the JSON-RPC side).
    func hold(_ entry: Entry, _ count: Int, limit: Int) -> Bool {
        guard entries[ObjectIdentifier(entry)] != nil else { return false }
        if heldBytes > 0, count > limit - heldBytes { return false }
        heldBytes += count
        entries[ObjectIdentifier(entry)]?.held += count
        return true
    }

    /// A request arrived on `entry`. Refused (nil) past `limit` running requests or while draining.
    func begin(_ entry: Entry, limit: Int) -> Refusal? {
        if draining { return .draining }
        if running >= limit { return .tooMany }
        guard entries[ObjectIdentifier(entry)] != nil else { return .draining }
        entries[ObjectIdentifier(entry)]?.busy = true
        running += 1
        return nil
    }

    /// Lets go of the body bytes of a request that was refused.
    func release(_ entry: Entry) {
        guard let slot = entries[ObjectIdentifier(entry)] else { return }
        heldBytes -= slot.held
        entries[ObjectIdentifier(entry)]?.held = 0
    }

    enum Refusal: Sendable {
        case draining, tooMany
    }

    /// The request on `entry` is answered; false when the connection must close now (draining).
    func end(_ entry: Entry) -> Bool {
        if let slot = entries[ObjectIdentifier(entry)] {
            if slot.busy { running -= 1 }
            heldBytes -= slot.held
            entries[ObjectIdentifier(entry)]?.busy = false
            entries[ObjectIdentifier(entry)]?.held = 0
        }
        wakeIdleWaiters()
        return !draining
    }

    /// Returns once no request is running (or once `endAll` ended them).
    func waitUntilIdle() async {
        guard running > 0 else { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    private func wakeIdleWaiters(force: Bool = false) {
        guard force || running == 0, !idleWaiters.isEmpty else { return }
        let waiters = idleWaiters
        idleWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// No new connections or requests; idle connections close now, busy ones after their response.
    func beginDrain() {
        draining = true
        for slot in entries.values where !slot.busy {
            slot.entry.channel.close(promise: nil)
        }
    }

    /// Ends every running request and closes every connection.
    func endAll() {
        draining = true
        for slot in entries.values {
            slot.entry.current.end(.shutdown)
            slot.entry.channel.close(promise: nil)
        }
        wakeIdleWaiters(force: true)
    }
}

/// The control of the request a connection is running now, for the watchers that may end it.
final class CurrentRequest: Sendable {
    private let box = NIOLockedValueBox<RequestControl?>(nil)

    func set(_ control: RequestControl?) {
        box.withLockedValue { $0 = control }
    }

    func end(_ reason: RequestEnding) {
        box.withLockedValue { $0 }?.end(reason)
    }
}
