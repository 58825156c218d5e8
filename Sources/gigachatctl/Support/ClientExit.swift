import ArgumentParser
import GigaChatProtocol

/// gigachatctl's exit codes, one per failure class (listed in `gigachatctl --help` and the man page).
enum ClientExit {
    static let upstreamError = ExitCode(1)
    static let daemonUnavailable = ExitCode(3)
    static let upstreamAuth = ExitCode(4)
    static let rateLimited = ExitCode(5)
    static let usage = ExitCode.validationFailure  // 64, from swift-argument-parser
    static let interrupted = ExitCode(130)

    static let helpText = """
        Exit status: 0 success; 1 the API or the daemon reported an error; 3 the daemon is not running \
        or not reachable; 4 the API rejected the credentials; 5 rate limited; 64 bad usage; \
        130 interrupted (Ctrl-C, the request is cancelled).
        """

    /// The exit code for an error the daemon returned.
    static func code(for error: RPCError) -> ExitCode {
        switch error.code {
        case .upstreamAuth, .notConfigured: return upstreamAuth
        case .rateLimited: return rateLimited
        case .requestCancelled: return interrupted
        case .invalidParams, .invalidRequest, .methodNotFound, .parseError: return usage
        default: return upstreamError
        }
    }

    /// One line for a person: the message, the API's HTTP status, and whether output was partial.
    static func describe(_ error: RPCError) -> String {
        var text = error.message
        if let status = error.data?["status"]?.intValue { text += " (HTTP \(status))" }
        return text
    }
}

/// A failure already reported to the user; carries only the exit code.
struct ReportedFailure: Error {
    let exitCode: ExitCode
}
