import ArgumentParser
import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// How a logged request ended: the ledger's `outcome`.
enum LogOutcome: String, ExpressibleByArgument, CaseIterable {
    case ok, error, cancelled, partial
}

/// `gigachatctl log`: the latest requests from gigachatd's usage ledger (`usage.log`), or new ones as
/// they come (`--follow`).
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Show the latest requests gigachatd served, or follow new ones (-f).",
        discussion: """
            One line per request from gigachatd's usage ledger, the oldest first: when it started, \
            the client (its systemd service, else its process name), the method, the model that \
            answered, tokens in, cached and out, the wait for an upstream slot, the time upstream \
            and the outcome (ok, error with its code, cancelled, partial). --follow then asks for \
            new requests every second until Ctrl-C, which ends it with status 0; with --json it \
            prints each request as one JSON object per line (without it, --json prints the \
            protocol's answer). --since takes what usage's does (a date, an age like 2h, today).
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: [.customShort("n"), .customLong("lines")], help: ArgumentHelp("How many of the latest requests (1–1000).", valueName: "n"))
    var lines = 20

    @Option(name: .long, help: ArgumentHelp("Only this client: a systemd unit, an executable or a process name.", valueName: "name"))
    var client: String?

    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Only this model, asked for or answering (with or without its version).", valueName: "name"),
        completion: Completions.allModels
    )
    var model: String?

    @Option(name: .long, help: ArgumentHelp("Only requests that ended so: ok, error, cancelled or partial.", valueName: "outcome"))
    var outcome: LogOutcome?

    @Option(name: .long, help: ArgumentHelp("Only requests from this moment on: a date, an age like 2h, today.", valueName: "when"))
    var since: String?

    @Flag(name: [.short, .long], help: "Keep printing new requests as they are served, until Ctrl-C.")
    var follow = false

    /// How often --follow asks for new rows.
    static let pollInterval: Duration = .seconds(1)

    func validate() throws {
        if !(1...1000).contains(lines) { throw ValidationError("--lines must be from 1 to 1000 (got \(lines))") }
        for (name, value) in [("--client", client), ("--model", model), ("--since", since)] where value?.isEmpty == true {
            throw ValidationError("\(name) needs a value")
        }
    }

    private func params(limit: Int, after: Int64?) -> JSONObject {
        var params: JSONObject = ["limit": .int(Int64(limit))]
        if let client { params["client"] = .string(client) }
        if let model { params["model"] = .string(model) }
        if let outcome { params["outcome"] = .string(outcome.rawValue) }
        if let since { params["since"] = UsageCommand.moment(since) }
        if let after { params["after_id"] = .int(after) }
        return params
    }

    func run() throws {
        try reportingFailures {
            guard follow else {
                try CallRunner.run(RPCMethod.usageLog, params: params(limit: lines, after: nil), options: connection) { result in
                    let entries = Array((result["entries"]?.arrayValue ?? []).reversed())
                    guard !entries.isEmpty else {
                        Output.line(Style.standardOutput.dim("No requests."))
                        return
                    }
                    Output.write(Self.header() + entries.map(Self.line).joined())
                }
                return
            }
            try followLog()
        }
    }

    /// Prints the latest rows, then new ones every second; Ctrl-C ends it.
    private func followLog() throws {
        let client = try connection.connect()
        // The polls' own lines are not printed: --json prints the entries themselves.
        var quiet = connection
        quiet.json = false
        var lastID: Int64?
        var first = true
        while true {
            let result: JSONValue
            do {
                result = try CallRunner.perform(RPCMethod.usageLog, params: params(limit: first ? lines : 1000, after: lastID), options: quiet, client: client)
            } catch let failure as ReportedFailure where failure.exitCode == ClientExit.interrupted {
                return
            }
            let entries = Array((result["entries"]?.arrayValue ?? []).reversed())
            if let newest = entries.last?["id"]?.intValue { lastID = newest }
            if connection.json {
                Output.write(entries.map { $0.jsonText + "\n" }.joined())
            } else {
                Output.write((first ? Self.header() : "") + entries.map(Self.line).joined())
            }
            // Until a row exists, ask for any row: ids only grow.
            if lastID == nil { lastID = 0 }
            first = false
            guard Self.pause(Self.pollInterval) else { return }
        }
    }

    /// Sleeps, watching for Ctrl-C; false when it came.
    private static func pause(_ duration: Duration) -> Bool {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end {
            if Interrupts.takePending() { return false }
            _ = poll(nil, 0, 50)
        }
        return !Interrupts.takePending()
    }

    /// Column widths of the lines; a longer cell pushes the rest of its line along.
    private static let widths = [19, 16, 13, 20, 6, 6, 6, 7, 7]
    private static let rightAligned: Set<Int> = [4, 5, 6, 7, 8]

    static func header() -> String {
        Style.standardOutput.bold(
            layout(["TIME", "CLIENT", "METHOD", "MODEL", "IN", "CACHED", "OUT", "WAIT", "TOOK", "OUTCOME"]))
            + "\n"
    }

    static func line(_ entry: JSONValue) -> String {
        let clientInfo = entry["client"]
        let unit = clientInfo?["unit"]?.stringValue
        let executable = clientInfo?["executable"]?.stringValue.flatMap { $0.split(separator: "/").last.map(String.init) }
        let client = (unit?.hasSuffix(".service") == true ? unit : nil) ?? clientInfo?["name"]?.stringValue ?? executable ?? "-"
        var outcome = entry["outcome"]?.stringValue ?? "-"
        if let code = entry["error_code"]?.intValue { outcome += " \(code)" }
        let started: String = entry["started_ms"]?.intValue.map(TimeText.localWithSeconds(milliseconds:)) ?? entry["started_at"]?.displayText ?? "-"
        let answered: String = entry["model_answered"]?.stringValue ?? entry["model"]?.stringValue ?? "-"
        var cells: [String] = [started, client, entry["method"]?.displayText ?? "-", answered]
        for key in ["input_tokens", "cached_tokens", "output_tokens"] { cells.append(entry[key]?.displayText ?? "0") }
        cells.append(DurationText.short(milliseconds: entry["queue_wait_ms"]?.intValue ?? 0))
        cells.append(DurationText.short(milliseconds: entry["upstream_ms"]?.intValue ?? 0))
        cells.append(outcome)
        let filter = TerminalFilter.standardOutput()
        let text = layout(cells.map { filter($0.cell(maxWidth: 60)) })
        return (outcome.hasPrefix("ok") ? text : Style.standardOutput.yellow(text)) + "\n"
    }

    private static func layout(_ cells: [String]) -> String {
        var text = ""
        for (column, cell) in cells.enumerated() {
            if column > 0 { text += "  " }
            guard column < widths.count else {
                text += cell
                continue
            }
            let gap = String(repeating: " ", count: max(0, widths[column] - cell.terminalWidth))
            text += rightAligned.contains(column) ? gap + cell : cell + gap
        }
        return text
    }
}
