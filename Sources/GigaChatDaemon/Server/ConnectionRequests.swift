import GigaChatProtocol

/// The requests running on one connection: for `cancel` by id, for refusing a duplicate id while the
/// first is still running, and for cancelling everything when the client leaves.
actor ConnectionRequests {
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    private var keysByID: [RPCID: UInt64] = [:]
    private var nextKey: UInt64 = 0
    private var cancelledAll = false

    /// Starts a request's task; false (and nothing started) if a request with that id is still running.
    func start(_ id: RPCID?, _ operation: @escaping @Sendable () async -> Void) -> Bool {
        if let id, keysByID[id] != nil { return false }
        nextKey += 1
        let key = nextKey
        if let id { keysByID[id] = key }
        // Stored before the task can finish: finished(_:id:) needs this actor, which we hold until return.
        let task = Task {
            await operation()
            self.finished(key, id: id)
        }
        if cancelledAll { task.cancel() }
        tasks[key] = task
        return true
    }

    private func finished(_ key: UInt64, id: RPCID?) {
        tasks[key] = nil
        if let id, keysByID[id] == key { keysByID[id] = nil }
    }

    var count: Int { tasks.count }

    /// Cancels request `id`; false if no such request is running.
    func cancel(_ id: RPCID) -> Bool {
        guard let key = keysByID[id], let task = tasks[key] else { return false }
        task.cancel()
        return true
    }

    /// The client left or the daemon gave up draining: cancel everything still running.
    func cancelAll() {
        cancelledAll = true
        for task in tasks.values { task.cancel() }
    }

    /// Waits for every running request to end.
    func waitForAll() async {
        while let (key, task) = tasks.first {
            await task.value
            tasks[key] = nil
        }
    }
}
