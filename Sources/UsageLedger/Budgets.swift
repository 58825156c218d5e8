import GigaChatProtocol

/// Which clients a budget covers.
public enum BudgetSelector: Sendable, Hashable, CustomStringConvertible {
    /// `unit:backup.service`: requests from processes in that systemd unit.
    case unit(String)
    /// `exe:/usr/bin/python3.11`: requests from that executable.
    case executable(String)
    /// `name:python3`: requests from processes of that name (/proc/PID/comm).
    case processName(String)
    /// `default`: every request no other budget covers, together.
    case `default`

    /// A config key: `unit:NAME`, `exe:PATH`, `name:COMM` or `default`.
    public init?(key: String) {
        if key == "default" {
            self = .default
            return
        }
        guard let colon = key.firstIndex(of: ":") else { return nil }
        let value = String(key[key.index(after: colon)...])
        guard !value.isEmpty else { return nil }
        switch key[..<colon] {
        case "unit": self = .unit(value)
        case "exe": self = .executable(value)
        case "name": self = .processName(value)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .unit(let name): return "unit:\(name)"
        case .executable(let path): return "exe:\(path)"
        case .processName(let name): return "name:\(name)"
        case .default: return "default"
        }
    }

    /// Units first, then executables, then process names: the most specific description of a client wins.
    var rank: Int {
        switch self {
        case .unit: return 0
        case .executable: return 1
        case .processName: return 2
        case .default: return 3
        }
    }

    func matches(_ client: ClientIdentity) -> Bool {
        switch self {
        case .unit(let name): return client.unit == name
        case .executable(let path): return client.executable == path
        case .processName(let name): return client.processName == name
        case .default: return true
        }
    }
}

/// A daily allowance: tokens (as the API counts them in `usage.total_tokens`), requests, or both.
public struct BudgetRule: Sendable, Hashable {
    public var selector: BudgetSelector
    public var dailyTokens: Int64?
    public var dailyRequests: Int64?

    public init(selector: BudgetSelector, dailyTokens: Int64? = nil, dailyRequests: Int64? = nil) {
        self.selector = selector
        self.dailyTokens = dailyTokens
        self.dailyRequests = dailyRequests
    }
}

/// The configured budgets (GIGACHATD_BUDGETS). A request is governed by exactly one rule: the first that
/// matches its client in the order unit, executable, process name, default; with no match and no
/// default it is not limited.
public struct Budgets: Sendable, Hashable {
    /// Most specific first.
    public private(set) var rules: [BudgetRule]

    public static let none = Budgets(rules: [])

    public init(rules: [BudgetRule]) {
        self.rules = rules.enumerated()
            .sorted { ($0.element.selector.rank, $0.offset) < ($1.element.selector.rank, $1.offset) }
            .map(\.element)
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// Parses `{"unit:backup.service":{"daily_tokens":10000},"default":{"daily_tokens":100000}}`; empty
    /// text means no budgets. Every mistake is refused with a message naming it, never half-applied.
    public static func parse(_ text: String) throws(LedgerError) -> Budgets {
        guard !text.trimmingSpaces.isEmpty else { return .none }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: text)
        } catch {
            throw LedgerError("GIGACHATD_BUDGETS is not valid JSON: \(error)", kind: .invalidSetting)
        }
        guard let object = json.objectValue else {
            throw LedgerError(
                "GIGACHATD_BUDGETS must be a JSON object of budgets, like {\"unit:backup.service\":{\"daily_tokens\":10000}}", kind: .invalidSetting)
        }
        var rules: [BudgetRule] = []
        for (key, value) in object {
            guard let selector = BudgetSelector(key: key) else {
                throw LedgerError("GIGACHATD_BUDGETS: \"\(key)\" is not a budget name; use unit:NAME, exe:PATH, name:PROCESS or default", kind: .invalidSetting)
            }
            guard let limits = value.objectValue else {
                throw LedgerError("GIGACHATD_BUDGETS: \"\(key)\" must be an object like {\"daily_tokens\":10000}", kind: .invalidSetting)
            }
            var rule = BudgetRule(selector: selector)
            for (field, number) in limits {
                guard let amount = number.intValue, amount >= 0, amount <= TokenCounts.maxCount else {
                    throw LedgerError("GIGACHATD_BUDGETS: \"\(key)\".\(field) must be a whole number from 0 to \(TokenCounts.maxCount)", kind: .invalidSetting)
                }
                switch field {
                case "daily_tokens": rule.dailyTokens = amount
                case "daily_requests": rule.dailyRequests = amount
                default:
                    throw LedgerError(
                        "GIGACHATD_BUDGETS: \"\(key)\" has an unknown limit \"\(field)\"; use daily_tokens or daily_requests", kind: .invalidSetting)
                }
            }
            guard rule.dailyTokens != nil || rule.dailyRequests != nil else {
                throw LedgerError("GIGACHATD_BUDGETS: \"\(key)\" sets no limit; give daily_tokens or daily_requests", kind: .invalidSetting)
            }
            rules.append(rule)
        }
        return Budgets(rules: rules)
    }

    /// The rule governing `client`'s requests, nil when none does.
    public func rule(for client: ClientIdentity) -> BudgetRule? {
        rules.first { $0.selector.matches(client) }
    }

    /// What the requests a rule governs used, from per-client use (each client counts against the one
    /// rule that governs it, so `default` counts only clients no other rule names).
    public func use(of rule: BudgetRule, in usage: [ClientUsage]) -> BudgetUse {
        var total = BudgetUse()
        for entry in usage where self.rule(for: entry.client)?.selector == rule.selector {
            total.tokens = Self.saturatingAdd(total.tokens, entry.tokens)
            total.requests = Self.saturatingAdd(total.requests, entry.requests)
        }
        return total
    }

    static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }
}

/// Tokens and requests counted against a budget.
public struct BudgetUse: Sendable, Hashable {
    public var tokens: Int64 = 0
    public var requests: Int64 = 0

    public init(tokens: Int64 = 0, requests: Int64 = 0) {
        self.tokens = tokens
        self.requests = requests
    }
}

/// Why a request was refused: which budget, what it allows, what was used, when it resets.
public struct BudgetRefusal: Sendable, Hashable, Error {
    public var budget: String
    /// "daily_tokens" or "daily_requests".
    public var limitName: String
    public var limit: Int64
    public var used: Int64
    /// The next local midnight, Unix ms.
    public var resetsAtMs: Int64

    /// One line for a person: "budget unit:backup.service allows 10000 tokens a day and 10234 were used
    /// today; it resets at 2026-11-26T00:00:00+03:00 (local midnight)".
    public var message: String {
        let what = limitName == "daily_requests" ? "requests" : "tokens"
        return "budget \(budget) allows \(limit) \(what) a day and \(used) were used today; it resets at \(LocalTime.iso8601(resetsAtMs)) (local midnight)"
    }

    /// The error's `data`: `{"budget","limit","daily_tokens"|"daily_requests","used","resets_at","resets_at_ms"}`.
    public var data: JSONValue {
        [
            "budget": .string(budget),
            "limit": .string(limitName),
            limitName: .int(limit),
            "used": .int(used),
            "resets_at": .string(LocalTime.iso8601(resetsAtMs)),
            "resets_at_ms": .int(resetsAtMs),
        ]
    }
}

public enum BudgetDecision: Sendable, Hashable {
    case allow
    case refuse(BudgetRefusal)
}

/// The budget rule, pure: a request may go when what its budget already used today is below each limit.
/// (A request's own tokens are unknown until it ends, so the last request of a day may overshoot.)
public enum BudgetCheck {
    public static func decide(rule: BudgetRule, used: BudgetUse, now: Int64, resetsAt: Int64) -> BudgetDecision {
        if let limit = rule.dailyRequests, used.requests >= limit {
            return .refuse(
                BudgetRefusal(budget: rule.selector.description, limitName: "daily_requests", limit: limit, used: used.requests, resetsAtMs: resetsAt))
        }
        if let limit = rule.dailyTokens, used.tokens >= limit {
            return .refuse(BudgetRefusal(budget: rule.selector.description, limitName: "daily_tokens", limit: limit, used: used.tokens, resetsAtMs: resetsAt))
        }
        return .allow
    }

    /// `decide` for `client` from today's per-client use; allowed when no rule governs it.
    public static func decide(client: ClientIdentity, budgets: Budgets, usage: [ClientUsage], now: Int64) -> BudgetDecision {
        guard let rule = budgets.rule(for: client) else { return .allow }
        return decide(rule: rule, used: budgets.use(of: rule, in: usage), now: now, resetsAt: LocalTime.nextMidnight(after: now))
    }
}
