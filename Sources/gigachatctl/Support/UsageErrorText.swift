/// ArgumentParser's usage errors in gigachatctl's own style: "gigachatctl: unknown option '-5'", with a
/// hint when the "option" was most likely a prompt that starts with a dash.
enum UsageErrorText {
    /// Subcommands whose arguments are free text, with their one-letter options and the options that
    /// take a value (whose value may start with a dash).
    static let textCommands: [String: (flags: Set<Character>, valued: Set<String>)] = [
        "chat": (
            Set("msrcCuifxhoaq"),
            [
                "-m", "--model", "-s", "--system", "-r", "--role", "--temperature", "--max-tokens", "--session",
                "-c", "--conversation", "--function", "-f", "--file", "--socket", "--connect-timeout", "--timeout",
                "--api", "-o", "--output-dir", "--reasoning", "--schema", "--regex", "-a", "--attach",
            ]
        ),
        "ai-check": (Set("mh"), ["-m", "--model", "--socket", "--connect-timeout", "--timeout"]),
        "tokens": (Set("mh"), ["-m", "--model", "--socket", "--connect-timeout", "--timeout"]),
        "embed": (Set("mh"), ["-m", "--model", "--socket", "--connect-timeout", "--timeout"]),
    ]

    static func render(message: String, full: String, arguments: [String]) -> String {
        var text = "gigachatctl: " + sentence(message) + "\n"
        if let hint = dashHint(message: message, arguments: arguments) { text += "gigachatctl: " + hint + "\n" }
        // What ArgumentParser adds after its first line: the option's help and the usage.
        let first = "Error: " + message
        if full.hasPrefix(first) {
            var rest = full.dropFirst(first.count)
            while rest.first == "\n" { rest.removeFirst() }
            if !rest.isEmpty { text += rest + (rest.hasSuffix("\n") ? "" : "\n") }
        }
        return text
    }

    /// A prompt such as "-hello there" would be read as the flags -h -e -l …, and -h would print the
    /// help: found before ArgumentParser sees it. Returns the error to print, or nil.
    static func misreadPrompt(in arguments: [String]) -> String? {
        guard let commandIndex = arguments.firstIndex(where: { textCommands[$0] != nil }),
            let command = textCommands[arguments[commandIndex]]
        else { return nil }
        var index = commandIndex + 1
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { return nil }
            if command.valued.contains(argument) {
                index += 2
                continue
            }
            let letters = argument.dropFirst()
            if argument.hasPrefix("-"), !argument.hasPrefix("--"), letters.count > 1,
                letters.first?.isLetter == true, !letters.allSatisfy(command.flags.contains)
            {
                return "gigachatctl: \(argument) is not an option; "
                    + hint(command: arguments[commandIndex], words: arguments[index...]) + "\n"
            }
            index += 1
        }
        return nil
    }

    /// The message with its first letter in lower case, unless it starts an acronym.
    private static func sentence(_ message: String) -> String {
        let characters = Array(message)
        guard characters.count > 1, characters[0].isUppercase, characters[1].isLowercase else { return message }
        return characters[0].lowercased() + String(characters.dropFirst())
    }

    /// "gigachatctl chat -5 degrees": the prompt needs `--` before it.
    private static func dashHint(message: String, arguments: [String]) -> String? {
        guard message.hasPrefix("Unknown option '-"),
            let commandIndex = arguments.firstIndex(where: { textCommands[$0] != nil }),
            let start = message.firstIndex(of: "'")
        else { return nil }
        let option = message[message.index(after: start)...].prefix { $0 != "'" }
        let at = arguments[commandIndex...].firstIndex { $0.hasPrefix(option) } ?? commandIndex
        return hint(command: arguments[commandIndex], words: arguments[at...])
    }

    private static func hint(command: String, words: ArraySlice<String>) -> String {
        let shown = words.isEmpty ? "-…" : words.joined(separator: " ")
        return "text that starts with - goes after --, as in: gigachatctl \(command) -- \"\(shown)\""
    }
}
