import GigaChatProtocol

/// One turn of a chat, as one-shot chat and the REPL both send it: the question (with its attachments
/// uploaded), the request in the chosen contract, the reply printed as it streams, then what comes
/// after it: a reply checked against --schema, generated files saved, the notes on stderr.
struct ChatExchange {
    let settings: ChatSettings
    let connection: ConnectionOptions
    var raw = false
    var extract = false
    var usage = false

    /// The user's turn in v2's form (MessageForm converts it for v1), with each attached file uploaded
    /// (or found among earlier uploads) and referred to by id.
    static func question(_ text: String, attachments: [String], client: DaemonClient, connection: ConnectionOptions) throws -> JSONValue {
        var parts: [JSONValue] = [["text": .string(text)]]
        let ids = try Attachments.ids(for: attachments, client: client, connection: connection)
        if !ids.isEmpty { parts.append(["files": .array(ids.map { ["id": .string($0)] })]) }
        return ["role": "user", "content": .array(parts)]
    }

    /// Sends `messages` and prints the reply; returns it. Failures are reported and thrown.
    func run(_ messages: [JSONValue], client: DaemonClient) throws -> Reply {
        let holdForCheck = settings.schema != nil
        let printer = ChatPrinter(raw: raw, extract: extract, quiet: settings.quiet, showText: !holdForCheck)
        let started = ContinuousClock.now
        let json = connection.json
        let result = try CallRunner.perform(
            settings.method,
            params: settings.params(messages: messages),
            options: connection,
            client: client,
            onNotification: printer.notification,
            willWait: printer.flush,
            beforeReport: { error in
                if !json { printer.abandon(error) }
            },
            textShown: { printer.textShown && !extract }
        )
        let reply = Reply(result)
        guard !json else { return reply }
        printer.finish(reply, sources: !holdForCheck)
        if holdForCheck, reply.functionCalls.isEmpty {
            try printJSON(reply.text.isEmpty ? printer.streamed : reply.text)
        }
        try GeneratedFiles.save(reply.files, into: settings.outputDirectory, client: client, connection: connection)
        ReplyNotes.after(reply, usage: usage, started: started, firstText: printer.firstTextAt)
        return reply
    }

    /// --schema: the reply must be JSON; it is printed indented on a terminal, on one line otherwise.
    private func printJSON(_ text: String) throws {
        guard let value = Self.parseJSON(text) else {
            let shown = text.count > 300 ? String(text.prefix(300)) + "…" : text
            Output.error("the reply is not valid JSON, though --schema asked for it: \(shown.isEmpty ? "(empty)" : shown)")
            throw ReportedFailure(exitCode: ClientExit.upstreamError)
        }
        let filter = TerminalFilter.standardOutput(raw: raw)
        Output.line(Output.stdoutIsTerminal ? filter(value.prettyText()) : value.jsonText)
    }

    /// The reply as JSON; a reply wrapped in one Markdown code fence counts too.
    static func parseJSON(_ text: String) -> JSONValue? {
        var body = String(text.trimmingCharacters(in: " \t\n\r"))
        if body.hasPrefix("```"), body.hasSuffix("```"), body.count >= 6 {
            body = String(body.dropFirst(3).dropLast(3))
            if let newline = body.firstIndex(of: "\n") { body = String(body[body.index(after: newline)...]) }
        }
        guard !body.isEmpty else { return nil }
        return try? JSONValue(parsing: body)
    }
}
