import ArgumentParser
import GigaChatProtocol

/// gigachatctl's exit codes, one per failure class (listed in `gigachatctl --help` and the man page).
enum ClientExit {
    static let upstreamError = ExitCode(1)
    static let daemonUnavailable = ExitCode(3)
    static let upstreamAuth = ExitCode(4)
    static let rateLimited = ExitCode(5)
    static let noTokensLeft = ExitCode(6)
    static let modelUnavailable = ExitCode(7)
    static let budgetExceeded = ExitCode(8)
    static let usage = ExitCode.validationFailure  // 64, from swift-argument-parser
    static let interrupted = ExitCode(130)

    static let helpText = """
        Exit status:
          0    success
          1    the API or the daemon reported an error, or --timeout passed
          3    gigachatd is not running or reachable, could not start or did not answer
          4    the API rejected the credentials, or none are configured
          5    rate limited beyond what gigachatd waits for
          6    no tokens left for this model on this key (the API answered 402)
          7    the model is switched off for now (a stop event: HTTP 423 or 403)
          8    a daily budget (GIGACHATD_BUDGETS) is used up until local midnight
          64   bad usage: unknown option, missing argument, invalid parameter
          130  interrupted by Ctrl-C (the request was cancelled)
        """

    /// The exit code for an error the daemon returned.
    static func code(for error: RPCError) -> ExitCode {
        switch error.code {
        case .upstreamAuth, .notConfigured: return upstreamAuth
        case .rateLimited: return rateLimited
        case .paymentRequired: return noTokensLeft
        case .modelUnavailable: return modelUnavailable
        case .budgetExceeded: return budgetExceeded
        case .requestCancelled: return interrupted
        case .invalidParams, .invalidRequest, .methodNotFound, .parseError: return usage
        case .shuttingDown, .accessDenied: return daemonUnavailable
        default: return upstreamError
        }
    }

    /// Bad usage found only when running (an unreadable --function file, no prompt): said in one line,
    /// because ArgumentParser would print the root command's usage for an error thrown from `run()`.
    static func usageError(_ message: String) -> ReportedFailure {
        Output.error(message)
        return ReportedFailure(exitCode: usage)
    }

    /// One line for a person: the message and the API's HTTP status; `textShown` says whether part of
    /// the reply is on the screen, which a partial reply then calls incomplete.
    static func describe(_ error: RPCError, textShown: Bool = false) -> String {
        var text = ErrorWording.clean(error.message)
        if let status = error.data?["status"]?.intValue, !text.contains(String(status)) { text += " (HTTP \(status))" }
        if textShown, error.data?["partial"]?.boolValue == true { text += "; the reply above is incomplete" }
        return text
    }
}

/// A failure already reported to the user; carries only the exit code, which is its kind.
struct ReportedFailure: ErrorShape {
    let exitCode: ExitCode
    var kind: Int32 { exitCode.rawValue }
    var message: String { "already reported (exit status \(exitCode.rawValue))" }
    var cause: ErrorCause? { nil }
    var description: String { message }
}
