import GigaChatProtocol

/// The JSON-RPC side of the ledger: params in, results out, for `usage.summary`, `usage.log` and the
/// `usage` part of `status` (docs/USAGE.md shows the shapes). The daemon's dispatcher only routes to these.
public enum UsageRPC {
    /// `usage.summary`: `{"since"?, "until"?, "group_by"?: "day"|"model"|"client"|"unit"|"method"}` →
    /// `{"since","until","group_by","rows":[...],"totals":{...},"budgets":[...]}`.
    public static func summary(_ params: JSONObject, ledger: Ledger, budgets: Budgets = .none) async throws(RPCError) -> JSONValue {
        let now = ledger.configuration.now()
        let since = try time(params["since"], field: "since", now: now)
        let until = try time(params["until"], field: "until", now: now)
        var grouping = SummaryGrouping.day
        if let value = params["group_by"], !value.isNull {
            guard let name = value.stringValue, let parsed = SummaryGrouping(rawValue: name) else {
                let names = SummaryGrouping.allCases.map(\.rawValue).joined(separator: ", ")
                throw RPCError(.invalidParams, "Invalid params: \"group_by\" must be one of \(names)")
            }
            grouping = parsed
        }
        let rows: [UsageSummaryRow]
        do {
            rows = try await ledger.summary(since: since, until: until, groupBy: grouping)
        } catch {
            throw unavailable(error)
        }
        var totals = UsageTotals()
        for row in rows { totals = add(totals, row.totals) }
        var result: JSONObject = [
            "since": since.map { .string(LocalTime.iso8601($0)) } ?? .null,
            "until": until.map { .string(LocalTime.iso8601($0)) } ?? .null,
            "group_by": .string(grouping.rawValue),
            "rows": .array(
                rows.map { row in
                    var object: JSONObject = ["key": row.key.map(JSONValue.string) ?? .null]
                    for (key, value) in json(row.totals) { object[key] = value }
                    return .object(object)
                }),
            "totals": .object(json(totals)),
        ]
        if !budgets.isEmpty {
            result["budgets"] = .array(try await budgetUse(budgets, ledger: ledger, now: now))
        }
        return .object(result)
    }

    /// Today's use against every configured budget.
    static func budgetUse(_ budgets: Budgets, ledger: Ledger, now: Int64) async throws(RPCError) -> [JSONValue] {
        let usage: [ClientUsage]
        do {
            usage = try await ledger.clientUsage(since: LocalTime.startOfDay(containing: now))
        } catch {
            throw unavailable(error)
        }
        let resets = LocalTime.iso8601(LocalTime.nextMidnight(after: now))
        return budgets.rules.map { rule in
            let used = budgets.use(of: rule, in: usage)
            return [
                "budget": .string(rule.selector.description),
                "daily_tokens": rule.dailyTokens.map(JSONValue.int) ?? .null,
                "daily_requests": rule.dailyRequests.map(JSONValue.int) ?? .null,
                "used_tokens": .int(used.tokens),
                "used_requests": .int(used.requests),
                "resets_at": .string(resets),
            ]
        }
    }

    /// `usage.log`: `{"limit"?: 1-1000 (20), "client"?, "model"?, "outcome"?, "after_id"?, "since"?}` →
    /// `{"entries":[...]}`, the latest first.
    public static func log(_ params: JSONObject, ledger: Ledger) async throws(RPCError) -> JSONValue {
        var filter = UsageLogFilter()
        if let value = params["limit"], !value.isNull {
            guard let limit = value.intValue, (1...Int64(UsageLogFilter.maxLimit)).contains(limit) else {
                throw RPCError(.invalidParams, "Invalid params: \"limit\" must be a whole number from 1 to \(UsageLogFilter.maxLimit)")
            }
            filter.limit = Int(limit)
        }
        filter.client = try string(params["client"], field: "client")
        filter.model = try string(params["model"], field: "model")
        if let name = try string(params["outcome"], field: "outcome") {
            guard let outcome = UsageOutcome(rawValue: name) else {
                throw RPCError(.invalidParams, "Invalid params: \"outcome\" must be one of \(UsageOutcome.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.outcome = outcome
        }
        if let value = params["after_id"], !value.isNull {
            guard let id = value.intValue else { throw RPCError(.invalidParams, "Invalid params: \"after_id\" must be a row id (a whole number)") }
            filter.afterID = id
        }
        filter.sinceMs = try time(params["since"], field: "since", now: ledger.configuration.now())
        do {
            return ["entries": .array(try await ledger.log(filter).map(json))]
        } catch {
            throw unavailable(error)
        }
    }

    /// The `usage` member of `status`: `{"today":{...}|null,"ledger":{...}}`. Today's totals are null when
    /// the ledger cannot be read; `ledger.last_error` then says why.
    public static func status(_ ledger: Ledger) async -> JSONValue {
        let today = try? await ledger.today()
        let status = ledger.status
        return [
            "today": today.map { .object(json($0)) } ?? .null,
            "ledger": [
                "path": .string(status.path),
                "healthy": .bool(status.healthy),
                "last_error": status.lastError.map(JSONValue.string) ?? .null,
                "last_error_at": status.lastErrorAtMs.map { .string(LocalTime.iso8601($0)) } ?? .null,
                "pending": .int(Int64(status.pending)),
                "written": .int(Int64(clamping: status.written)),
                "dropped": .int(Int64(clamping: status.dropped)),
            ],
        ]
    }

    public static func json(_ totals: UsageTotals) -> JSONObject {
        [
            "requests": .int(totals.requests),
            "input_tokens": .int(totals.inputTokens),
            "output_tokens": .int(totals.outputTokens),
            "cached_tokens": .int(totals.cachedTokens),
            "total_tokens": .int(totals.totalTokens),
            "errors": .int(totals.errors),
            "queue_wait_ms": .int(totals.queueWaitMs),
        ]
    }

    public static func json(_ entry: UsageLogEntry) -> JSONValue {
        let record = entry.record
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        var object: JSONObject = [
            "id": .int(entry.id),
            "started_at": .string(LocalTime.iso8601(record.startedAtMs)),
            "started_ms": .int(record.startedAtMs),
            "queue_wait_ms": .int(record.queueWaitMs),
            "upstream_ms": .int(record.upstreamMs),
            "method": .string(record.method),
            "endpoint": text(record.endpoint),
            "contract": .string(record.contract.rawValue),
            "model": text(record.modelRequested),
            "model_answered": text(record.modelAnswered),
            "input_tokens": .int(record.inputTokens),
            "output_tokens": .int(record.outputTokens),
            "cached_tokens": .int(record.cachedTokens),
            "total_tokens": .int(record.totalTokens),
            "outcome": .string(record.outcome.rawValue),
            "error_code": record.errorCode.map { .int(Int64($0)) } ?? .null,
            "retries": .int(Int64(record.retries)),
            "conversation": text(record.conversation),
            "session_id": text(record.sessionID),
            "client": [
                "pid": record.client.pid.map { .int(Int64($0)) } ?? .null,
                "name": text(record.client.processName),
                "executable": text(record.client.executable),
                "unit": text(record.client.unit),
            ],
        ]
        if let prompt = record.promptText { object["prompt"] = .string(prompt) }
        if let reply = record.replyText { object["reply"] = .string(reply) }
        return .object(object)
    }

    /// A moment given as Unix milliseconds, "now", "today", "yesterday", a local date "2026-11-25", or
    /// an age "90s", "30m", "12h", "7d", "2w" (that long before now); nil when absent.
    public static func time(_ value: JSONValue?, field: String, now: Int64) throws(RPCError) -> Int64? {
        guard let value, !value.isNull else { return nil }
        if let milliseconds = value.intValue { return milliseconds }
        let invalid = RPCError(
            .invalidParams,
            "Invalid params: \"\(field)\" must be Unix milliseconds, \"today\", \"yesterday\", a date like \"2026-11-25\" or an age like \"7d\", \"12h\", \"30m\""
        )
        guard let text = value.stringValue else { throw invalid }
        switch text {
        case "now": return now
        case "today": return LocalTime.startOfDay(containing: now)
        case "yesterday": return LocalTime.midnight(of: now, addingDays: -1)
        default: break
        }
        if let date = LocalTime.parseDate(text) { return date }
        guard let unit = text.last, let amount = Int64(text.dropLast()), amount >= 0, amount <= 36_500 * 24 * 3600 else { throw invalid }
        let seconds: Int64
        switch unit {
        case "s": seconds = amount
        case "m": seconds = amount * 60
        case "h": seconds = amount * 3600
        case "d": seconds = amount * 86_400
        case "w": seconds = amount * 604_800
        default: throw invalid
        }
        // Ages go back at most a century, so the product cannot overflow; older means everything.
        return now &- min(seconds, 36_500 * 86_400) &* 1000
    }

    private static func string(_ value: JSONValue?, field: String) throws(RPCError) -> String? {
        guard let value, !value.isNull else { return nil }
        guard let text = value.stringValue, !text.isEmpty else { throw RPCError(.invalidParams, "Invalid params: \"\(field)\" must be a non-empty string") }
        return text
    }

    private static func unavailable(_ error: LedgerError) -> RPCError {
        RPCError(.localError, error.message, data: ["reason": "ledger"])
    }

    private static func add(_ a: UsageTotals, _ b: UsageTotals) -> UsageTotals {
        let sum = Budgets.saturatingAdd
        return UsageTotals(
            requests: sum(a.requests, b.requests),
            inputTokens: sum(a.inputTokens, b.inputTokens),
            outputTokens: sum(a.outputTokens, b.outputTokens),
            cachedTokens: sum(a.cachedTokens, b.cachedTokens),
            totalTokens: sum(a.totalTokens, b.totalTokens),
            errors: sum(a.errors, b.errors),
            queueWaitMs: sum(a.queueWaitMs, b.queueWaitMs)
        )
    }
}
