import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// What is said on stderr after a reply: that it was cut off at the length limit (on a terminal), that
/// the API's content filter declined to answer, and with --usage the tokens and the time it took.
enum ReplyNotes {
    static func after(_ reply: Reply, usage: Bool, started: ContinuousClock.Instant, firstText: ContinuousClock.Instant?) {
        switch reply.finishReason {
        case "length":
            Output.notice("the reply was cut off at its length limit (--max-tokens, or the model's own maximum)")
        case "blacklist":
            // Said to scripts too: the text above is a canned refusal, not an answer.
            Output.write(
                "gigachatctl: note: the API's content filter declined to answer (finish_reason \"blacklist\"); "
                    + "the text above is its stock refusal\n",
                to: STDERR_FILENO
            )
        default:
            break
        }
        if usage {
            let line = footer(reply.usage, elapsed: .now - started, firstText: firstText.map { $0 - started })
            Output.write(Style.standardError.dim(line) + "\n", to: STDERR_FILENO)
        }
    }

    /// "usage: 17 tokens in (3 cached), 2 out; 0.42 s, first text after 0.10 s"
    static func footer(_ usage: Reply.TokenUsage?, elapsed: Duration, firstText: Duration?) -> String {
        var text = "usage: "
        if let usage, let input = usage.input {
            text += "\(input) tokens in (\(usage.cached ?? 0) cached), \(usage.output ?? 0) out; "
        } else {
            text += "no token counts from the API; "
        }
        text += seconds(elapsed)
        if let firstText { text += ", first text after " + seconds(firstText) }
        return text
    }

    /// "1.23 s"
    static func seconds(_ duration: Duration) -> String {
        let hundredths = (Durations.milliseconds(duration) + 5) / 10
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) s"
    }
}
