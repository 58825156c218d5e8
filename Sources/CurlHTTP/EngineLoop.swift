internal import CCurl

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The engine thread's body: owns the multi handle and every easy handle, and runs the poll loop.
///
/// Lives on the engine thread only (handed over once at thread start), hence not `Sendable`.
final class EngineLoop {
    private let core: EngineCore
    private var multi: UnsafeMutableRawPointer { core.multi.raw }
    /// Keyed by the transfer's shared state, which is what other threads name in their requests.
    private var byState: [ObjectIdentifier: EasyTransfer] = [:]
    /// Keyed by the easy handle's address, which is what libcurl names in its completion messages.
    private var byHandle: [UnsafeMutableRawPointer: EasyTransfer] = [:]
    /// CA bundles as files, so libcurl parses each once instead of once per connection.
    private let caFiles = CAFileCache()

    /// Upper bound for one wait, so a lost wakeup or a silence deadline is never missed by much.
    private static let maxPollMilliseconds: Int32 = 1000

    init(core: EngineCore) {
        self.core = core
    }

    func run() {
        while true {
            let work = core.takeWork()
            if work.stopping {
                for state in work.starts {
                    state.abort(.cancelled("The curl engine was shut down"))
                }
                break
            }
            for state in work.starts { start(state) }
            for state in work.cancels {
                if let transfer = byState[ObjectIdentifier(state)] {
                    abort(transfer, with: .cancelled("The transfer was cancelled"), discardBuffered: true)
                }
            }
            for state in work.unpauses { unpause(state) }

            var running: Int32 = 0
            let performed = curl_multi_perform(multi, &running)
            if performed != CURLM_OK {
                // The multi handle failed as a whole (memory, internal error): none of its transfers can be
                // trusted to progress. The engine stays up so later requests get their own, real error.
                failAll(CurlError(multiCode: performed, during: "curl_multi_perform"))
            }
            collectFinished()
            let silenceWait = enforceSilenceLimits()

            let polled = curl_multi_poll(multi, nil, 0, silenceWait, nil)
            if polled != CURLM_OK {
                failAll(CurlError(multiCode: polled, during: "curl_multi_poll"))
                // libcurl already retries EINTR itself; anything else would fail again at once, so back off.
                usleep(100_000)
            }
        }
        for transfer in Array(byState.values) {
            abort(transfer, with: .cancelled("The curl engine was shut down"), discardBuffered: true)
        }
        // Transfers posted between the last takeWork() and close() would otherwise never end.
        for state in core.close() {
            state.abort(.cancelled("The curl engine was shut down"))
        }
        // Safe now: close() guarantees no other thread calls curl_multi_wakeup any more.
        _ = curl_multi_cleanup(multi)
    }

    private func start(_ state: TransferState) {
        guard !state.isAbandoned else { return }
        let transfer: EasyTransfer
        do {
            transfer = try EasyTransfer.make(for: state, caFiles: caFiles)
        } catch {
            state.fail(error)
            return
        }
        let added = curl_multi_add_handle(multi, transfer.easy)
        guard added == CURLM_OK else {
            transfer.dispose()
            state.fail(CurlError(multiCode: added, during: "curl_multi_add_handle"))
            return
        }
        byState[ObjectIdentifier(state)] = transfer
        byHandle[transfer.easy] = transfer
    }

    private func unpause(_ state: TransferState) {
        guard let transfer = byState[ObjectIdentifier(state)] else { return }
        transfer.noteUnpaused()
        state.willUnpause()
        // libcurl redelivers the block it kept when the write callback paused, often inside this very call.
        let code = curl_easy_pause(transfer.easy, ccurl_pause_cont())
        if code != CURLE_OK {
            abort(transfer, with: transfer.error(for: code), discardBuffered: false)
        }
    }

    private func collectFinished() {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            // Copied out first: the message is invalid once its handle is removed.
            let result = message.pointee.data.result
            guard let transfer = byHandle[easy] else { continue }
            remove(transfer)
            if result == CURLE_OK {
                transfer.completeHead()
                transfer.state.finish()
            } else {
                transfer.state.fail(transfer.error(for: result))
            }
            transfer.dispose()
        }
    }

    /// Aborts transfers that have been silent too long; returns how long the poll may wait.
    private func enforceSilenceLimits() -> Int32 {
        var wait = Duration.milliseconds(Int64(Self.maxPollMilliseconds))
        let now = ContinuousClock.now
        for transfer in Array(byState.values) where transfer.silenceArmed {
            // A paused transfer is quiet because our consumer is slow, not because the server is.
            if transfer.state.isPaused { continue }
            let deadline = transfer.lastActivity + transfer.silenceLimit
            if deadline <= now {
                abort(transfer, with: .silence(seconds: transfer.state.request.timeoutSeconds), discardBuffered: false)
            } else {
                wait = min(wait, deadline - now)
            }
        }
        let (seconds, attoseconds) = wait.components
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(1, millis))
    }

    /// Takes a transfer off the multi handle mid-flight; its connection is closed rather than reused.
    private func abort(_ transfer: EasyTransfer, with error: CurlError, discardBuffered: Bool) {
        // Removing an unfinished HTTP/1.1 transfer already makes libcurl close its connection; forbidding
        // reuse as well keeps that true even if that rule changes. Failing to set it changes nothing else.
        _ = ccurl_easy_setopt_long(transfer.easy, CURLOPT_FORBID_REUSE, 1)
        remove(transfer)
        if discardBuffered {
            transfer.state.abort(error)
        } else {
            transfer.state.fail(error)
        }
        transfer.dispose()
    }

    private func remove(_ transfer: EasyTransfer) {
        byState[ObjectIdentifier(transfer.state)] = nil
        byHandle[transfer.easy] = nil
        // If this failed, curl_easy_cleanup in dispose() still detaches the handle from the multi handle.
        _ = curl_multi_remove_handle(multi, transfer.easy)
    }

    private func failAll(_ error: CurlError) {
        for transfer in Array(byState.values) {
            abort(transfer, with: error, discardBuffered: false)
        }
    }
}
