import ArgumentParser
import GigaChatProtocol

/// What `usage` groups by: the ledger's `group_by`.
enum UsageGrouping: String, ExpressibleByArgument, CaseIterable {
    case day, model, client, unit, method
}

/// `gigachatctl usage`: tokens and requests from gigachatd's usage ledger (`usage.summary`).
struct UsageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show the tokens used, by day, model, client, systemd unit or method.",
        discussion: """
            gigachatd writes one row per request into its usage ledger \
            ($XDG_STATE_HOME/gigachat/usage.sqlite3); this sums them. --since and --until take a \
            local date (2026-11-25, from its midnight), an age before now (90s, 30m, 12h, 7d, 2w), \
            today, yesterday or now; --since counts from that moment, --until up to it. CACHED input \
            tokens came from the API's prompt cache and are not billed; ERRORS counts failed and \
            broken-off requests; WAIT is the time spent waiting for an upstream slot. When gigachatd \
            has budgets (GIGACHATD_BUDGETS), today's use against each follows the table. --csv \
            prints the rows as CSV (raw numbers, queue wait in milliseconds).
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: ArgumentHelp("Count from this moment: a date, an age like 7d, today (default: everything kept).", valueName: "when"))
    var since: String?

    @Option(name: .long, help: ArgumentHelp("Count up to this moment (default: now).", valueName: "when"))
    var until: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Group the rows by day, model, client (executable), unit (systemd unit) or method.", valueName: "key"),
        completion: .list(UsageGrouping.allCases.map(\.rawValue))
    )
    var by: UsageGrouping = .day

    @Flag(name: .long, help: "Print the rows as CSV with a header line.")
    var csv = false

    func validate() throws {
        if csv, connection.json { throw ValidationError("--csv and --json both say how to print; give one") }
        if let since, since.isEmpty { throw ValidationError("--since needs a date or an age, like 7d") }
        if let until, until.isEmpty { throw ValidationError("--until needs a date or an age, like 1d") }
    }

    func run() throws {
        try reportingFailures {
            var params: JSONObject = ["group_by": .string(by.rawValue)]
            if let since { params["since"] = Self.moment(since) }
            if let until { params["until"] = Self.moment(until) }
            try CallRunner.run(RPCMethod.usageSummary, params: params, options: connection) { result in
                Output.write(csv ? Self.csv(result, by: by) : Self.table(result, by: by))
            }
        }
    }

    /// Unix milliseconds stay a number; everything else is for gigachatd to read.
    static func moment(_ text: String) -> JSONValue {
        if !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber), let milliseconds = Int64(text) {
            return .int(milliseconds)
        }
        return .string(text)
    }

    static let columns = ["requests", "input_tokens", "cached_tokens", "output_tokens", "total_tokens", "errors", "queue_wait_ms"]

    static func table(_ result: JSONValue, by: UsageGrouping) -> String {
        let style = Style.standardOutput
        var output = ""
        let since = result["since"]?.stringValue.flatMap(TimeText.local(iso:))
        let until = result["until"]?.stringValue.flatMap(TimeText.local(iso:))
        if since != nil || until != nil {
            output += style.dim("From \(since ?? "the oldest row kept") to \(until ?? "now").") + "\n"
        }
        let rows = result["rows"]?.arrayValue ?? []
        if rows.isEmpty {
            output += style.dim("No requests in this period.") + "\n"
        } else {
            var table = Table([by.rawValue.uppercased(), "REQUESTS", "INPUT", "CACHED", "OUTPUT", "TOTAL", "ERRORS", "WAIT"], rightAligned: Set(1...7))
            for row in rows { table.add([row["key"]?.displayText ?? "-"] + numbers(row)) }
            if rows.count > 1, let totals = result["totals"] { table.add(["total"] + numbers(totals)) }
            output += table.render()
        }
        let budgets = result["budgets"]?.arrayValue ?? []
        if !budgets.isEmpty {
            var table = Table(["BUDGET", "TOKENS TODAY", "REQUESTS TODAY", "RESETS"])
            for budget in budgets {
                table.add([
                    budget["budget"]?.displayText ?? "-",
                    use(budget["used_tokens"], of: budget["daily_tokens"], style: style),
                    use(budget["used_requests"], of: budget["daily_requests"], style: style),
                    budget["resets_at"]?.stringValue.flatMap(TimeText.local(iso:)) ?? budget["resets_at"]?.displayText ?? "-",
                ])
            }
            output += "\n" + table.render()
        }
        return output
    }

    /// REQUESTS … WAIT cells of a row or of the totals.
    private static func numbers(_ row: JSONValue) -> [String] {
        var cells = columns.dropLast().map { row[$0]?.displayText ?? "0" }
        cells.append(DurationText.short(milliseconds: row["queue_wait_ms"]?.intValue ?? 0))
        return cells
    }

    /// "6100 of 10000 (61%)", red once the limit is reached; the bare number without a limit.
    private static func use(_ used: JSONValue?, of limit: JSONValue?, style: Style) -> String {
        let count = used?.intValue ?? 0
        guard let limit = limit?.intValue else { return "\(count)" }
        let percent = limit > 0 ? count.multipliedReportingOverflow(by: 100).partialValue / limit : 100
        let text = "\(count) of \(limit) (\(percent)%)"
        return count >= limit ? style.red(text) : text
    }

    static func csv(_ result: JSONValue, by: UsageGrouping) -> String {
        var output = ([by.rawValue] + columns).joined(separator: ",") + "\n"
        for row in result["rows"]?.arrayValue ?? [] {
            let key = row["key"]?.stringValue.map(csvField) ?? ""
            output += ([key] + columns.map { row[$0]?.intValue.map { String($0) } ?? "0" }).joined(separator: ",") + "\n"
        }
        return output
    }

    /// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return text }
        var quoted = "\""
        for character in text { quoted += character == "\"" ? "\"\"" : String(character) }
        return quoted + "\""
    }
}

/// Short durations for tables: "0 ms", "812 ms", "4.2 s", "12 min".
enum DurationText {
    static func short(milliseconds: Int64) -> String {
        if milliseconds < 1000 { return "\(max(0, milliseconds)) ms" }
        if milliseconds < 60_000 {
            let tenths = (milliseconds + 50) / 100
            return "\(tenths / 10).\(tenths % 10) s"
        }
        return "\((milliseconds + 30_000) / 60_000) min"
    }
}
