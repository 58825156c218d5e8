import GigaChatProtocol
import Testing

@testable import UsageLedger

@Suite struct UsageRPCTests {
    @Test func timesAcceptMillisecondsNamesDatesAndAges() throws {
        let now: Int64 = 1_800_000_000_000
        #expect(try UsageRPC.time(nil, field: "since", now: now) == nil)
        #expect(try UsageRPC.time(.int(123), field: "since", now: now) == 123)
        #expect(try UsageRPC.time("now", field: "since", now: now) == now)
        #expect(try UsageRPC.time("today", field: "since", now: now) == LocalTime.startOfDay(containing: now))
        #expect(try UsageRPC.time("yesterday", field: "since", now: now) == LocalTime.midnight(of: now, addingDays: -1))
        #expect(try UsageRPC.time("7d", field: "since", now: now) == now - 7 * 86_400_000)
        #expect(try UsageRPC.time("12h", field: "since", now: now) == now - 12 * 3_600_000)
        #expect(try UsageRPC.time("2w", field: "since", now: now) == now - 14 * 86_400_000)
        #expect(try UsageRPC.time("2026-11-25", field: "since", now: now) == LocalTime.parseDate("2026-11-25"))
        for bad: JSONValue in ["7y", "-1d", "d", "", "2026-02-31", "99999999999999999999d", true] {
            #expect(throws: RPCError.self, "\(bad)") { try UsageRPC.time(bad, field: "since", now: now) }
        }
    }

    @Test func summaryAndLogSpeakJSON() async throws {
        let scratch = ScratchDirectory()
        let ledger = Ledger(configuration: LedgerConfiguration(path: scratch.path + "/usage.sqlite3"))
        let now = LedgerClock.wallMilliseconds()
        ledger.record(.sample(at: now, tokens: (10, 5, 2)))
        ledger.record(.sample(at: now, model: "GigaChat-Pro", answered: nil, outcome: .error))

        let summary = try await UsageRPC.summary(["since": "7d", "group_by": "model"], ledger: ledger)
        #expect(summary["group_by"] == "model")
        #expect(summary["rows"]?.arrayValue?.count == 2)
        let row = try #require(summary["rows"]?[0])
        #expect(row["key"] == "GigaChat")
        #expect(row["requests"] == .int(1))
        #expect(row["input_tokens"] == .int(10))
        #expect(row["cached_tokens"] == .int(2))
        #expect(row["total_tokens"] == .int(15))
        #expect(row["queue_wait_ms"] == .int(0))
        #expect(summary["totals"]?["requests"] == .int(2))
        #expect(summary["totals"]?["errors"] == .int(1))
        #expect(summary["budgets"] == nil)
        #expect(summary["until"] == .null)

        let log = try await UsageRPC.log(["limit": 1, "outcome": "error"], ledger: ledger)
        let entry = try #require(log["entries"]?[0])
        #expect(log["entries"]?.arrayValue?.count == 1)
        #expect(entry["outcome"] == "error")
        #expect(entry["error_code"] == .int(-32003))
        #expect(entry["model"] == "GigaChat-Pro")
        #expect(entry["model_answered"] == .null)
        #expect(entry["client"]?["unit"] == "backup.service")
        #expect(entry["client"]?["name"] == "python3")
        #expect(entry["prompt"] == nil, "no text keys unless text is stored")
        #expect(entry["started_at"]?.stringValue?.hasPrefix(LocalTime.date(now)) == true)

        let status = await UsageRPC.status(ledger)
        #expect(status["today"]?["requests"] == .int(2))
        #expect(status["ledger"]?["healthy"] == true)
        #expect(status["ledger"]?["written"] == .int(2))
        await ledger.close()
    }

    @Test(
        arguments: [
            ("usage.summary", ["group_by": "week"]),
            ("usage.summary", ["since": "soon"]),
            ("usage.log", ["limit": 0]),
            ("usage.log", ["limit": 1001]),
            ("usage.log", ["outcome": "fine"]),
            ("usage.log", ["client": 5]),
            ("usage.log", ["after_id": "x"]),
        ] as [(String, JSONObject)])
    func badParamsAreInvalidParams(method: String, params: JSONObject) async {
        let scratch = ScratchDirectory()
        let ledger = Ledger(configuration: LedgerConfiguration(path: scratch.path + "/usage.sqlite3"))
        do {
            if method == "usage.summary" {
                _ = try await UsageRPC.summary(params, ledger: ledger)
            } else {
                _ = try await UsageRPC.log(params, ledger: ledger)
            }
            Issue.record("accepted \(params)")
        } catch {
            #expect(error.code == .invalidParams)
        }
        await ledger.close()
    }

    @Test func aLedgerThatCannotBeReadIsALocalError() async {
        let scratch = ScratchDirectory()
        let ledger = Ledger(configuration: LedgerConfiguration(path: scratch.path + "/usage.sqlite3"))
        await ledger.close()
        do {
            _ = try await UsageRPC.log([:], ledger: ledger)
            Issue.record("a closed ledger answered")
        } catch {
            #expect(error.code == .localError)
            #expect(error.data?["reason"] == "ledger")
        }
    }

    @Test func configurationComesFromTheEnvironment() throws {
        let defaults = try LedgerConfiguration.fromEnvironment([:], stateDirectory: "/state/gigachat")
        #expect(defaults.path == "/state/gigachat/usage.sqlite3")
        #expect(defaults.retentionDays == 90)
        #expect(!defaults.storeText)
        let set = try LedgerConfiguration.fromEnvironment(["GIGACHATD_LEDGER_RETENTION_DAYS": "7", "GIGACHATD_LEDGER_TEXT": "1"], stateDirectory: "/s")
        #expect(set.retentionDays == 7 && set.storeText)
        for bad in [
            ["GIGACHATD_LEDGER_RETENTION_DAYS": "0"], ["GIGACHATD_LEDGER_RETENTION_DAYS": "36501"], ["GIGACHATD_LEDGER_RETENTION_DAYS": "x"],
            ["GIGACHATD_LEDGER_TEXT": "maybe"],
        ] {
            #expect(throws: LedgerError.self) { try LedgerConfiguration.fromEnvironment(bad, stateDirectory: "/s") }
        }
    }
}

@Suite struct LocalTimeTests {
    @Test func daysStartAtLocalMidnight() {
        let now = LedgerClock.wallMilliseconds()
        let start = LocalTime.startOfDay(containing: now)
        let next = LocalTime.nextMidnight(after: now)
        #expect(start <= now && now < next)
        #expect((23 * 3_600_000...25 * 3_600_000).contains(next - start), "a day is 23-25 hours")
        #expect(LocalTime.iso8601(start).contains("T00:00:00"))
        #expect(LocalTime.iso8601(next).contains("T00:00:00"))
        #expect(LocalTime.startOfDay(containing: next) == next)
        #expect(LocalTime.date(start) == LocalTime.date(now))
        #expect(LocalTime.parseDate(LocalTime.date(now)) == start)
    }

    @Test func datesAreValidated() {
        #expect(LocalTime.parseDate("2026-02-29") == nil, "not a leap year")
        #expect(LocalTime.parseDate("2028-02-29") != nil)
        #expect(LocalTime.parseDate("2026-1-5") == nil)
        #expect(LocalTime.parseDate("yesterday") == nil)
    }
}
