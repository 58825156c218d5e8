#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import GigaChatProtocol

/// What is said on stderr after a reply: that it was cut off at the length limit (on a terminal), and
/// with --usage the tokens and the time it took.
enum ReplyNotes {
    static func after(_ result: JSONValue, usage: Bool, started: ContinuousClock.Instant, firstText: ContinuousClock.Instant?) {
        if result["choices"]?[0]?["finish_reason"]?.stringValue == "length" {
            Output.notice("the reply was cut off at its length limit (--max-tokens, or the model's own maximum)")
        }
        if usage {
            let line = footer(result["usage"], elapsed: .now - started, firstText: firstText.map { $0 - started })
            Output.write(Style.standardError.dim(line) + "\n", to: STDERR_FILENO)
        }
    }

    /// "usage: 17 tokens in (3 cached), 2 out; 0.42 s, first text after 0.10 s"
    static func footer(_ usage: JSONValue?, elapsed: Duration, firstText: Duration?) -> String {
        var text = "usage: "
        if let usage, let prompt = usage["prompt_tokens"]?.intValue {
            text += "\(prompt) tokens in"
            if let cached = usage["precached_prompt_tokens"]?.intValue { text += " (\(cached) cached)" }
            text += ", \(usage["completion_tokens"]?.intValue ?? 0) out; "
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
