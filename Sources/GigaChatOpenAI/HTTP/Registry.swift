import NIOConcurrencyHelpers
import NIOCore

/// The front end's open connections and running requests: for the daemon-wide request cap, for `status`,
/// and for the drain (idle connections close at once, busy ones after their response, and what still
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

    private var entries: [ObjectIdentifier: (entry: Entry, busy: Bool)] = [:]
    private(set) var draining = false
    private(set) var running = 0
    private(set) var served = 0

    /// Registers a new connection; nil when the daemon is shutting down (the caller closes it).
    func opened(_ channel: any Channel) -> Entry? {
        guard !draining else { return nil }
        let entry = Entry(channel: channel)
        entries[ObjectIdentifier(entry)] = (entry, false)
        return entry
    }

    func closed(_ entry: Entry) {
        if entries.removeValue(forKey: ObjectIdentifier(entry))?.busy == true { running -= 1 }
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

    enum Refusal: Sendable {
        case draining, tooMany
    }

    /// The request on `entry` is answered; false when the connection must close now (draining).
    func end(_ entry: Entry) -> Bool {
        if entries[ObjectIdentifier(entry)]?.busy == true {
            entries[ObjectIdentifier(entry)]?.busy = false
            running -= 1
        }
        served += 1
        return !draining
    }

    var connections: Int { entries.count }

    /// No new connections or requests; idle connections close now, busy ones after their response.
    func beginDrain() {
        draining = true
        for (entry, busy) in entries.values where !busy {
            entry.channel.close(promise: nil)
        }
    }

    /// Ends every running request and closes every connection.
    func endAll() {
        draining = true
        for (entry, _) in entries.values {
            entry.current.end(.shutdown)
            entry.channel.close(promise: nil)
        }
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
