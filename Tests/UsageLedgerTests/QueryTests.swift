import GigaChatProtocol
import Testing

@testable import UsageLedger

@Suite struct QueryTests {
    static let backup = ClientIdentity(pid: 10, processName: "python3", executable: "/usr/bin/python3.11", unit: "backup.service")
    static let terminal = ClientIdentity(pid: 11, processName: "gigachatctl", executable: "/usr/bin/gigachatctl", unit: "session-2.scope")
    static let bare = ClientIdentity(pid: 12, processName: "curl", executable: nil, unit: nil)

    /// A ledger holding: today two backup chats (one failed), one terminal chat on GigaChat-Pro, one
    /// embeddings call from a unit-less client; yesterday one backup chat.
    private func filledLedger(_ scratch: ScratchDirectory) async -> (Ledger, today: Int64) {
        let ledger = Ledger(configuration: LedgerConfiguration(path: scratch.path + "/usage.sqlite3"))
        let now = LedgerClock.wallMilliseconds()
        let today = LocalTime.startOfDay(containing: now)
        let yesterday = LocalTime.midnight(of: now, addingDays: -1)
        ledger.record(.sample(at: yesterday + 1000, tokens: (100, 50, 0), client: Self.backup))
        ledger.record(.sample(at: today + 1000, tokens: (10, 5, 4), client: Self.backup, queueWaitMs: 30))
        ledger.record(.sample(at: today + 2000, tokens: (0, 0, 0), outcome: .error, client: Self.backup, queueWaitMs: 20))
        ledger.record(.sample(at: today + 3000, model: "GigaChat-Pro", answered: "GigaChat-Pro:1.0.26.20", tokens: (7, 3, 0), client: Self.terminal))
        ledger.record(.sample(at: today + 4000, method: "embeddings", model: "Embeddings", answered: nil, tokens: (6, 0, 0), client: Self.bare))
        await ledger.flush()
        return (ledger, today)
    }

    @Test func summaryByDaySumsEveryKindOfToken() async throws {
        let scratch = ScratchDirectory()
        let (ledger, today) = await filledLedger(scratch)
        let rows = try await ledger.summary(groupBy: .day)
        #expect(rows.map(\.key) == [LocalTime.date(today - 1), LocalTime.date(today)])
        let todayRow = try #require(rows.last)
        #expect(todayRow.totals == UsageTotals(requests: 4, inputTokens: 23, outputTokens: 8, cachedTokens: 4, totalTokens: 31, errors: 1, queueWaitMs: 50))
        #expect(try await ledger.today() == todayRow.totals)
        #expect(try await ledger.summary(since: today, groupBy: .day).count == 1, "since is inclusive")
        #expect(try await ledger.summary(until: today, groupBy: .day).map(\.key) == [LocalTime.date(today - 1)], "until is exclusive")
        await ledger.close()
    }

    @Test func summaryByModelClientUnitAndMethod() async throws {
        let scratch = ScratchDirectory()
        let (ledger, _) = await filledLedger(scratch)
        let models = try await ledger.summary(groupBy: .model)
        #expect(models.map(\.key) == ["GigaChat", "GigaChat-Pro", "Embeddings"], "the version is not a model of its own; largest first")
        #expect(models.first?.totals.requests == 3)
        let clients = try await ledger.summary(groupBy: .client)
        #expect(Set(clients.map(\.key)) == ["/usr/bin/python3.11", "/usr/bin/gigachatctl", "curl"], "the process name when the executable is unknown")
        let units = try await ledger.summary(groupBy: .unit)
        #expect(units.map(\.key) == ["backup.service", "session-2.scope", nil])
        let methods = try await ledger.summary(groupBy: .method)
        #expect(methods.map(\.key) == ["chat", "embeddings"])
        #expect(methods.first?.totals.errors == 1)
        await ledger.close()
    }

    @Test func logListsTheLatestFirstWithFilters() async throws {
        let scratch = ScratchDirectory()
        let (ledger, _) = await filledLedger(scratch)
        let all = try await ledger.log(limit: 100)
        #expect(all.count == 5)
        #expect(all.map(\.id) == all.map(\.id).sorted(by: >))
        #expect(all.first?.record.method == "embeddings")
        #expect(all.first?.record.client == Self.bare)
        #expect(try await ledger.log(limit: 2).count == 2)
        #expect(try await ledger.log(limit: 100, client: "backup.service").count == 3, "by unit")
        #expect(try await ledger.log(limit: 100, client: "/usr/bin/gigachatctl").count == 1, "by executable")
        #expect(try await ledger.log(limit: 100, client: "curl").count == 1, "by process name")
        #expect(try await ledger.log(limit: 100, model: "GigaChat-Pro").count == 1, "by the model's name")
        #expect(try await ledger.log(limit: 100, model: "GigaChat:2.0.28.2").count == 3, "by the exact answering model")
        #expect(try await ledger.log(limit: 100, outcome: .error).map(\.record.outcome) == [.error])
        #expect(try await ledger.log(limit: 100, client: "backup.service", outcome: .ok).count == 2, "filters combine")
        let newest = try #require(all.first?.id)
        #expect(try await ledger.log(UsageLogFilter(limit: 100, afterID: newest - 2)).count == 2, "after_id, for --follow")
        await ledger.close()
    }

    @Test func aRowReadsBackAsItWasRecorded() async throws {
        let scratch = ScratchDirectory()
        let ledger = Ledger(configuration: LedgerConfiguration(path: scratch.path + "/usage.sqlite3"))
        let record = UsageRecord(
            startedAtMs: 1_800_000_000_123, queueWaitMs: 12, upstreamMs: 345, method: "chat.create",
            endpoint: "/v2/chat/completions", contract: .v2, modelRequested: "GigaChat-2-Max",
            modelAnswered: "GigaChat-2-Max:2.0.28.2", inputTokens: 19, outputTokens: 8, cachedTokens: 3,
            totalTokens: 27, outcome: .partial, errorCode: -32005, retries: 2, conversation: "work",
            sessionID: "abc", client: Self.backup
        )
        ledger.record(record)
        let entry = try #require(try await ledger.log(limit: 1).first)
        #expect(entry.record == record)
        await ledger.close()
    }

    @Test func outlandishNumbersAreClampedNotTrapped() async throws {
        let scratch = ScratchDirectory()
        let ledger = Ledger(configuration: LedgerConfiguration(path: scratch.path + "/usage.sqlite3"))
        var record = UsageRecord.sample(at: LedgerClock.wallMilliseconds())
        record.inputTokens = .max
        record.totalTokens = .max
        record.queueWaitMs = -5
        record.retries = .max
        ledger.record(record)
        ledger.record(record)
        let totals = try await ledger.today()
        #expect(totals.inputTokens == 2 * TokenCounts.maxCount, "sums stay far from overflow")
        #expect(totals.queueWaitMs == 0)
        await ledger.close()
    }
}

@Suite struct UsageRecordTests {
    @Test func applyReadsV1AndV2Usage() {
        var record = UsageRecord(startedAtMs: 0, method: "chat")
        record.apply(
            .success([
                "model": "GigaChat:2.0.28.2",
                "usage": ["prompt_tokens": 17, "completion_tokens": 2, "total_tokens": 19, "precached_prompt_tokens": 5],
            ]))
        #expect(record.outcome == .ok && record.errorCode == nil)
        #expect(
            TokenCounts(input: record.inputTokens, output: record.outputTokens, cached: record.cachedTokens, total: record.totalTokens)
                == TokenCounts(input: 17, output: 2, cached: 5, total: 19))
        #expect(record.modelAnswered == "GigaChat:2.0.28.2")

        let v2 = TokenCounts(usage: [
            "input_tokens": 19, "input_tokens_details": ["prompt_tokens": 19, "cached_tokens": 7], "output_tokens": 8, "total_tokens": 27,
        ])
        #expect(v2 == TokenCounts(input: 19, output: 8, cached: 7, total: 27))
        let openai = TokenCounts(usage: ["prompt_tokens": 4, "completion_tokens": 1, "prompt_tokens_details": ["cached_tokens": 2]])
        #expect(openai == TokenCounts(input: 4, output: 1, cached: 2, total: 5), "total derived when absent")
        #expect(TokenCounts(usage: ["prompt_tokens": -3]) == TokenCounts(input: 0, output: 0, cached: 0, total: 0))
        #expect(TokenCounts(usage: "nope") == nil)
    }

    @Test func applyClassifiesFailures() {
        var record = UsageRecord(startedAtMs: 0, method: "chat")
        record.apply(.failure(RPCError(.upstreamError, "503")))
        #expect(record.outcome == .error && record.errorCode == -32003)

        record.apply(.failure(RPCError(.requestCancelled, "request cancelled", data: ["result": ["usage": ["total_tokens": 9]]])))
        #expect(record.outcome == .cancelled && record.errorCode == -32800)
        #expect(record.totalTokens == 9, "a cancelled reply that finished still used its tokens")

        record.apply(.failure(RPCError(.upstreamProtocol, "broke off", data: ["partial": true, "result": ["model": "GigaChat:1"]])))
        #expect(record.outcome == .partial && record.errorCode == -32005)
        #expect(record.modelAnswered == "GigaChat:1")
    }
}
