import GigaChatProtocol
import Testing

@testable import UsageLedger

@Suite struct BudgetTests {
    static let config =
        #"{"unit:backup.service":{"daily_tokens":10000},"exe:/usr/bin/python3":{"daily_tokens":5000,"daily_requests":100},"name:curl":{"daily_requests":3},"default":{"daily_tokens":100000}}"#
    static let backup = ClientIdentity(processName: "python3", executable: "/usr/bin/python3", unit: "backup.service")
    static let script = ClientIdentity(processName: "python3", executable: "/usr/bin/python3", unit: "session-1.scope")
    static let curl = ClientIdentity(processName: "curl", executable: "/usr/bin/curl", unit: nil)
    static let other = ClientIdentity(processName: "node", executable: "/usr/bin/node", unit: nil)

    @Test func parsesEverySelectorAndOrdersThemMostSpecificFirst() throws {
        let budgets = try Budgets.parse(Self.config)
        #expect(budgets.rules.map(\.selector.description) == ["unit:backup.service", "exe:/usr/bin/python3", "name:curl", "default"])
        #expect(budgets.rules[1] == BudgetRule(selector: .executable("/usr/bin/python3"), dailyTokens: 5000, dailyRequests: 100))
        #expect(try Budgets.parse("").isEmpty)
        #expect(try Budgets.parse("  ").isEmpty)
    }

    @Test(arguments: [
        "[]",
        "{",
        #"{"user:me":{"daily_tokens":1}}"#,
        #"{"unit:":{"daily_tokens":1}}"#,
        #"{"default":10}"#,
        #"{"default":{}}"#,
        #"{"default":{"daily_tokens":-1}}"#,
        #"{"default":{"daily_tokens":1.5}}"#,
        #"{"default":{"daily_tokens":"many"}}"#,
        #"{"default":{"monthly_tokens":1}}"#,
    ])
    func refusesMistakesWithAMessage(text: String) {
        #expect(throws: LedgerError.self) { try Budgets.parse(text) }
        do {
            _ = try Budgets.parse(text)
        } catch {
            #expect(error.message.hasPrefix("GIGACHATD_BUDGETS"))
        }
    }

    @Test func eachClientIsGovernedByItsMostSpecificRule() throws {
        let budgets = try Budgets.parse(Self.config)
        #expect(budgets.rule(for: Self.backup)?.selector == .unit("backup.service"), "the unit beats the executable")
        #expect(budgets.rule(for: Self.script)?.selector == .executable("/usr/bin/python3"))
        #expect(budgets.rule(for: Self.curl)?.selector == .processName("curl"))
        #expect(budgets.rule(for: Self.other)?.selector == .default)
        #expect(try Budgets.parse(#"{"unit:x.service":{"daily_tokens":1}}"#).rule(for: Self.other) == nil, "no default: unlimited")
    }

    @Test func useCountsEachClientAgainstItsOwnRuleOnly() throws {
        let budgets = try Budgets.parse(Self.config)
        let usage = [
            ClientUsage(client: Self.backup, tokens: 9000, requests: 9),
            ClientUsage(client: Self.script, tokens: 400, requests: 4),
            ClientUsage(client: Self.other, tokens: 70, requests: 7),
            ClientUsage(client: ClientIdentity(processName: "wget"), tokens: 30, requests: 1),
        ]
        let rules = budgets.rules
        #expect(budgets.use(of: rules[0], in: usage) == BudgetUse(tokens: 9000, requests: 9))
        #expect(budgets.use(of: rules[1], in: usage) == BudgetUse(tokens: 400, requests: 4), "the backup unit's python is not the script's")
        #expect(budgets.use(of: rules[3], in: usage) == BudgetUse(tokens: 100, requests: 8), "default: everyone else, together")
    }

    @Test func refusesAtTheLimitNamingTheBudgetAndTheReset() throws {
        let rule = BudgetRule(selector: .unit("backup.service"), dailyTokens: 10000)
        let now = LedgerClock.wallMilliseconds()
        let midnight = LocalTime.nextMidnight(after: now)
        #expect(BudgetCheck.decide(rule: rule, used: BudgetUse(tokens: 9999), now: now, resetsAt: midnight) == .allow)
        guard case .refuse(let refusal) = BudgetCheck.decide(rule: rule, used: BudgetUse(tokens: 10234), now: now, resetsAt: midnight) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(refusal.message.contains("unit:backup.service"))
        #expect(refusal.message.contains("10000 tokens a day"))
        #expect(refusal.message.contains("10234"))
        #expect(refusal.message.contains(LocalTime.iso8601(midnight)))
        #expect(refusal.data["budget"] == "unit:backup.service")
        #expect(refusal.data["daily_tokens"] == .int(10000))
        #expect(refusal.data["resets_at_ms"] == .int(midnight))

        let requests = BudgetRule(selector: .processName("curl"), dailyRequests: 3)
        guard case .refuse(let byCount) = BudgetCheck.decide(rule: requests, used: BudgetUse(tokens: 0, requests: 3), now: now, resetsAt: midnight) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(byCount.limitName == "daily_requests")
        #expect(byCount.message.contains("3 requests a day"))
        #expect(BudgetCheck.decide(rule: BudgetRule(selector: .default, dailyTokens: 0), used: BudgetUse(), now: now, resetsAt: midnight) != .allow, "0 blocks")
    }

    @Test func theLedgerChecksTodaysUseAndFailsOpen() async throws {
        let scratch = ScratchDirectory()
        let ledger = Ledger(configuration: LedgerConfiguration(path: scratch.path + "/usage.sqlite3"))
        let budgets = try Budgets.parse(#"{"unit:backup.service":{"daily_tokens":100},"default":{"daily_requests":1}}"#)
        let now = LedgerClock.wallMilliseconds()
        ledger.record(.sample(at: LocalTime.midnight(of: now, addingDays: -1) + 1, tokens: (500, 0, 0), client: Self.backup))
        #expect(await ledger.checkBudget(for: Self.backup, budgets: budgets) == .allow, "yesterday does not count")
        ledger.record(.sample(at: now, tokens: (60, 40, 0), client: Self.backup))
        guard case .refuse(let refusal) = await ledger.checkBudget(for: Self.backup, budgets: budgets) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(refusal.used == 100)
        #expect(refusal.resetsAtMs == LocalTime.nextMidnight(after: now))
        #expect(await ledger.checkBudget(for: Self.other, budgets: budgets) == .allow)
        #expect(await ledger.checkBudget(for: Self.other, budgets: .none) == .allow)

        let summary = try await UsageRPC.summary(["since": "today"], ledger: ledger, budgets: budgets)
        let first = try #require(summary["budgets"]?[0])
        #expect(first["budget"] == "unit:backup.service")
        #expect(first["used_tokens"] == .int(100))
        #expect(first["daily_tokens"] == .int(100))

        await ledger.close()
        #expect(await ledger.checkBudget(for: Self.backup, budgets: budgets) == .allow, "a ledger that cannot be read never refuses")
    }
}
