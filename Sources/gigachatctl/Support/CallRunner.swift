import ArgumentParser
import GigaChatProtocol

/// Runs one call the way every subcommand does: --json prints the protocol lines, otherwise `render`
/// prints the result for a person; errors go to stderr with the documented exit code.
enum CallRunner {
    static func run(
        _ method: String,
        params: JSONObject = [:],
        options: ConnectionOptions,
        onNotification: (String, JSONObject) -> Void = { _, _ in },
        willWait: (() -> Void)? = nil,
        render: (JSONValue) -> Void
    ) throws {
        let client = try options.connect()
        let lines = OutputBuffer()
        defer { lines.flush() }
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
            outcome = try client.call(method, params: params, onNotification: options.json ? { _, _ in } : onNotification)
        } catch {
            Output.error("lost the connection to gigachatd: \(error.reason)")
            throw ReportedFailure(exitCode: ClientExit.daemonUnavailable)
        }
        lines.flush()
        switch outcome {
        case .interrupted:
            throw ReportedFailure(exitCode: ClientExit.interrupted)
        case .finished(.success(let result)):
            if !options.json { render(result) }
        case .finished(.failure(let error)):
            if !options.json { Output.error(ClientExit.describe(error)) }
            throw ReportedFailure(exitCode: ClientExit.code(for: error))
        }
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
