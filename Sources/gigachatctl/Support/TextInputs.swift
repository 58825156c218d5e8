import ArgumentParser

/// Texts from the command line, or standard input as one text.
enum TextInputs {
    static func resolve(_ arguments: [String]) throws -> [String] {
        if !arguments.isEmpty { return arguments }
        guard !Output.stdinIsTerminal else {
            throw ClientExit.usageError("give texts as arguments or on standard input")
        }
        let text = String(Output.readStandardInput().trimmingTrailingNewlines())
        guard !text.isEmpty else { throw ClientExit.usageError("standard input is empty") }
        return [text]
    }
}
