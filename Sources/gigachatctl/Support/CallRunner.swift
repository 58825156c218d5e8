import ArgumentParser
import GigaChatProtocol

/// Runs one call the way every subcommand does: --json prints the protocol lines, otherwise `render`
/// prints the result for a person; errors go to stderr with the documented exit code.
enum CallRunner {
    static func run(
        _ method: String,
        params: JSONObject = [:],
        options: ConnectionOptions,
        render: (JSONValue) -> Void
    ) throws {
        let client = try options.connect()
        let result = try perform(method, params: params, options: options, client: client)
        if !options.json { render(result) }
    }

    /// Sends one request on `client` and waits for its end: --json prints every line as it arrives, a
    /// queue notice shows on a terminal while the daemon holds the request back. Returns the result;
    /// anything else is reported (after `beforeReport`, which ends a partly printed line) and thrown.
    static func perform(
        _ method: String,
        params: JSONObject,
        options: ConnectionOptions,
        client: DaemonClient,
        onNotification: (String, JSONObject) -> Void = { _, _ in },
        willWait: (() -> Void)? = nil,
        beforeReport: (RPCError?) -> Void = { _ in },
        textShown: () -> Bool = { false }
    ) throws -> JSONValue {
        let lines = OutputBuffer()
        let queue = QueueNotice()
        defer {
            lines.flush()
            client.rawLineObserver = nil
            client.willWait = nil
        }
        if options.json {
            client.rawLineObserver = { line in
                lines.append(line)
                lines.append("\n")
            }
            client.willWait = lines.flush
        } else {
            client.willWait = willWait
        }
        let outcome: CallOutcome
        do {
            outcome = try client.call(method, params: params, limits: options.limits) { method, params in
                guard !options.json else { return }
                if queue.handle(method, params) { return }
                queue.clear()
                onNotification(method, params)
            }
        } catch {
            lines.flush()
            queue.clear()
            beforeReport(nil)
            throw options.report(error)
        }
        lines.flush()
        queue.clear()
        switch outcome {
        case .finished(.success(let result)):
            return result
        case .finished(.failure(let error)):
            beforeReport(error)
            if !options.json { Output.error(ClientExit.describe(error, textShown: textShown())) }
            throw ReportedFailure(exitCode: ClientExit.code(for: error))
        case .interrupted:
            beforeReport(nil)
            throw ReportedFailure(exitCode: ClientExit.interrupted)
        case .timedOut:
            beforeReport(nil)
            // With --json the daemon's final line (the cancellation) says it; stderr stays empty.
            if !options.json { Output.error(timeoutMessage(options, textShown: textShown())) }
            throw ReportedFailure(exitCode: ClientExit.upstreamError)
        }
    }

    static func timeoutMessage(_ options: ConnectionOptions, textShown: Bool) -> String {
        let seconds = Durations.text(seconds: options.timeout ?? 0)
        return "no complete answer within \(seconds) (--timeout), so the request was cancelled"
            + (textShown ? "; the reply above is incomplete" : "")
    }
}

extension ParsableCommand {
    /// Runs `body`, turning ReportedFailure into its exit code (the message was already printed).
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as ReportedFailure {
            throw failure.exitCode
        }
    }
}
