import Foundation
import GigaChatAPI
import GigaChatProtocol
import Logging

/// Reads a prepaid key's balance now and then (never per request), for `status` and the STATUS= line,
/// and warns once in the journal when an entry falls below GIGACHATD_BALANCE_WARN tokens.
///
/// Postpaid keys answer `/balance` with 403; the watcher then stops asking until a reload.
actor BalanceWatcher {
    private(set) var balance: JSONValue?
    private(set) var readAt: String?
    private var warned: Set<String> = []
    private var task: Task<Void, Never>?
    private let logger: Logger
    static let firstReadDelaySeconds = 60.0

    init(logger: Logger) {
        self.logger = logger
    }

    /// Starts (or restarts, after a reload) reading every `interval` seconds (0: never) with `client`,
    /// warning below `warning` tokens.
    func start(client: GigaChatClient, interval: Double, warning: Int) {
        task?.cancel()
        guard interval > 0 else { return }
        task = Task { [weak self] in
            // Not at once: start-up (often on a client's first request, under socket activation) and the
            // token come first; a minute later, or sooner with a short interval.
            try? await Task.sleep(for: Durations.from(seconds: min(interval, Self.firstReadDelaySeconds)))
            while !Task.isCancelled {
                guard let self, await self.read(client: client, warning: warning) else { return }
                try? await Task.sleep(for: Durations.from(seconds: interval))
            }
        }
    }

    func stop() {
        task?.cancel()
        task = nil
    }

    /// One short line for systemd's STATUS=: "balance GigaChat 12000, embeddings 40000".
    var summary: String? {
        guard let entries = balance?["balance"]?.arrayValue, !entries.isEmpty else { return nil }
        return "balance "
            + entries.compactMap { entry in
                guard let usage = entry["usage"]?.stringValue, let value = entry["value"]?.doubleValue else { return nil }
                return "\(usage) \(Durations.text(seconds: value).dropLast(2))"
            }.joined(separator: ", ")
    }

    /// False when the key has no balance to read (postpaid): stop asking.
    private func read(client: GigaChatClient, warning: Int) async -> Bool {
        do {
            // Background work: it waits behind every client's request.
            let scope = RequestScope(priority: .batch, logger: logger)
            let answer = try await RequestScope.run(scope) { () async throws -> JSONValue in
                try await client.send(APICall(.get, APIPath.balance))
            }
            balance = answer
            readAt = Timestamps.iso8601(Date.now)
            warnIfLow(answer, threshold: warning)
            return true
        } catch let error as APIError {
            if error.status == 403 {
                logger.info("the key has no prepaid balance to read (403); not asking again until a reload")
                return false
            }
            logger.debug("could not read the balance", metadata: ["error": "\(error.message)"])
            return true
        } catch {
            return true
        }
    }

    private func warnIfLow(_ answer: JSONValue, threshold: Int) {
        for entry in answer["balance"]?.arrayValue ?? [] {
            guard let usage = entry["usage"]?.stringValue, let value = entry["value"]?.doubleValue else { continue }
            if value < Double(threshold) {
                if warned.insert(usage).inserted {
                    logger.warning("balance is low", metadata: ["usage": "\(usage)", "tokens": "\(value)", "threshold": "\(threshold)"])
                }
            } else {
                warned.remove(usage)
            }
        }
    }
}
