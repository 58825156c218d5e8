import GigaChatAPI
import GigaChatOpenAI
import GigaChatProtocol
import Logging
import UsageLedger

/// The daemon's side of the usage ledger: one row per finished request, and the daily budgets checked
/// before a request goes upstream. The ledger itself (SQLite on a thread of its own, never failing a
/// request) is in UsageLedger.
struct UsageAccounting: Sendable {
    let ledger: Ledger
    let budgets: Budgets

    /// Methods that are about the daemon or the ledger itself: looking at usage is not usage.
    static let unrecorded: Set<String> = [RPCMethod.status, RPCMethod.cancel, RPCMethod.usageSummary, RPCMethod.usageLog]
    /// Methods that never reach the API, so no budget applies to them.
    static let local: Set<String> = unrecorded.union([
        RPCMethod.conversationsList, RPCMethod.conversationsShow, RPCMethod.conversationsDelete,
    ])

    /// The error for a request its client's budget does not allow; nil when it may go.
    func refusal(for method: String, client: ClientIdentity) async -> RPCError? {
        guard !budgets.rules.isEmpty, !Self.local.contains(method) else { return nil }
        guard case .refuse(let refusal) = await ledger.checkBudget(for: client, budgets: budgets) else { return nil }
        return RPCError(.budgetExceeded, refusal.message, data: refusal.data)
    }

    func record(
        method: String,
        startedAtMilliseconds: Int64,
        metrics: RequestMetrics.Values,
        client: ClientIdentity,
        result: Result<JSONValue, RPCError>
    ) {
        guard !Self.unrecorded.contains(method) else { return }
        var row = UsageRecord(
            startedAtMs: startedAtMilliseconds,
            queueWaitMs: Durations.milliseconds(metrics.queueWait),
            upstreamMs: Durations.milliseconds(metrics.upstream),
            method: method,
            endpoint: metrics.endpoint,
            contract: method == RPCMethod.chatCreate ? .v2 : .v1,
            modelRequested: metrics.modelRequested,
            retries: metrics.retries,
            conversation: metrics.conversation,
            sessionID: metrics.sessionID,
            client: client
        )
        row.apply(result)
        ledger.record(row)
    }

    /// A row for a request of the HTTP front end: the OpenAI translation or a forwarded GigaChat path.
    func record(_ summary: OpenAIServer.RequestSummary) {
        let metrics = summary.metrics
        var row = UsageRecord(
            startedAtMs: summary.startedAtMilliseconds,
            queueWaitMs: Durations.milliseconds(metrics.queueWait),
            upstreamMs: Durations.milliseconds(metrics.upstream),
            method: summary.route,
            endpoint: metrics.endpoint,
            contract: summary.passthrough ? .passthrough : .openai,
            modelRequested: metrics.modelRequested,
            modelAnswered: metrics.modelAnswered,
            outcome: summary.failureStatus == nil ? .ok : (summary.endedEarly ? .cancelled : .error),
            // An HTTP status here: these requests have no JSON-RPC code.
            errorCode: summary.failureStatus,
            retries: metrics.retries,
            sessionID: metrics.sessionID,
            client: summary.peerPID.map { ClientIdentity.of(pid: $0) } ?? ClientIdentity()
        )
        if let tokens = TokenCounts(usage: metrics.usage) {
            row.inputTokens = tokens.input
            row.outputTokens = tokens.output
            row.cachedTokens = tokens.cached
            row.totalTokens = tokens.total
        }
        ledger.record(row)
    }

    /// The ledger and the budgets (GIGACHATD_LEDGER_*, GIGACHATD_BUDGETS, read by `SettingsLoader`). A
    /// ledger that cannot be written is not an error: it reports and recovers.
    static func open(_ configuration: LedgerConfiguration, budgets: Budgets, logger: Logger) -> UsageAccounting {
        var configuration = configuration
        configuration.onEvent = { event in
            switch event {
            case .failed(let reason): logger.warning("usage ledger cannot be written; requests go on", metadata: ["error": "\(reason)"])
            case .recovered: logger.info("usage ledger is written again")
            case .dropped(let count, let reason): logger.warning("usage ledger dropped rows", metadata: ["rows": "\(count)", "reason": "\(reason)"])
            }
        }
        return UsageAccounting(ledger: Ledger(configuration: configuration), budgets: budgets)
    }
}
