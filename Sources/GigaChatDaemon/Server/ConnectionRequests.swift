import GigaChatProtocol

/// The requests running on one connection: for `cancel` by id, for refusing a duplicate id while the
/// first is still running, for capping how many one client may run, and for ending requests early
/// (cancel, deadline, a client that stopped reading) with the reason their final response must give.
actor ConnectionRequests {
    /// Why the daemon ended a request before it finished by itself.
    enum Ending: Sendable, Equatable {
        /// `cancel` named it: it answers -32800.
        case cancelled
        /// Its deadline (GIGACHATD_REQUEST_TIMEOUT or its own deadline_ms) passed.
        case deadline
        /// The client did not read what the daemon had for it for GIGACHATD_CLIENT_STALL_TIMEOUT.
        case clientStall
    }

    enum Start: Sendable, Equatable {
        case started
        /// A request with that id is still running here.
        case duplicateID
        /// The connection already runs `limit` requests.
        case tooMany(limit: Int)
    }

    private struct Entry {
        var task: Task<Void, Never>?
        let id: RPCID?
        /// Set once the final result is decided: from then on the id is free and cancel answers false.
        var finished = false
        var ending: Ending?
    }

    private var entries: [UInt64: Entry] = [:]
    private var keysByID: [RPCID: UInt64] = [:]
    private var nextKey: UInt64 = 0
    private var cancelledAll = false

    /// Starts a request's task, which gets its key (for `finish` and `end`).
    func start(_ id: RPCID?, limit: Int, _ operation: @escaping @Sendable (UInt64) async -> Void) -> Start {
        if let id, keysByID[id] != nil { return .duplicateID }
        guard entries.count < limit else { return .tooMany(limit: limit) }
        nextKey += 1
        let key = nextKey
        if let id { keysByID[id] = key }
        entries[key] = Entry(id: id)
        // Stored before the task can finish: removed(_:) needs this actor, which we hold until return.
        let task = Task {
            await operation(key)
            self.removed(key)
        }
        if cancelledAll { task.cancel() }
        entries[key]?.task = task
        return .started
    }

    /// The request's result is decided and about to be written: frees its id (a client may reuse it as
    /// soon as it reads the final line) and says whether the daemon ended the request, and why.
    func finish(_ key: UInt64) -> Ending? {
        guard var entry = entries[key] else { return nil }
        entry.finished = true
        entries[key] = entry
        if let id = entry.id, keysByID[id] == key { keysByID[id] = nil }
        return entry.ending
    }

    private func removed(_ key: UInt64) {
        guard let entry = entries.removeValue(forKey: key) else { return }
        if let id = entry.id, keysByID[id] == key { keysByID[id] = nil }
    }

    /// Requests not yet ended (their final line may still be on its way).
    var count: Int { entries.count }

    /// Cancels request `id`; true only if it will answer -32800 (it was running and not already ended
    /// for another reason).
    func cancel(_ id: RPCID) -> Bool {
        guard let key = keysByID[id] else { return false }
        return end(key, .cancelled) || entries[key]?.ending == .cancelled
    }

    /// Ends request `key` for `reason` unless its result is already decided or it was ended before.
    @discardableResult
    func end(_ key: UInt64, _ reason: Ending) -> Bool {
        guard var entry = entries[key], !entry.finished, entry.ending == nil else { return false }
        entry.ending = reason
        entries[key] = entry
        entry.task?.cancel()
        return true
    }

    /// The client stopped reading: end everything it still has running.
    func endAllForStall() {
        for key in entries.keys { end(key, .clientStall) }
    }

    /// The client left or the daemon gave up draining: cancel everything still running.
    func cancelAll() {
        cancelledAll = true
        for entry in entries.values { entry.task?.cancel() }
    }

    /// Waits for every running request to end.
    func waitForAll() async {
        while let (key, entry) = entries.first {
            await entry.task?.value
            entries[key] = nil
        }
    }
}
