import GigaChatProtocol

/// `-c NAME` with a typo silently starts a new conversation; on a terminal, say so.
enum ConversationCheck {
    /// Asks gigachatd for its conversations; a name it does not keep yet gets a notice. An error of
    /// the API is left for the chat itself to report; a daemon that does not answer is reported here.
    static func announceIfNew(_ name: String, client: DaemonClient, options: ConnectionOptions) throws {
        guard Output.stderrIsTerminal, try isNew(name, client: client, options: options) else { return }
        Output.notice("new conversation \(name) (gigachatctl conversations lists the others)")
    }

    static func isNew(_ name: String, client: DaemonClient, options: ConnectionOptions) throws -> Bool {
        let outcome: CallOutcome
        do {
            outcome = try client.call(RPCMethod.conversationsList, limits: options.limits)
        } catch {
            throw options.report(error)
        }
        switch outcome {
        case .finished(.success(let result)):
            let conversations = result["conversations"]?.arrayValue ?? []
            return !conversations.contains { $0["name"]?.stringValue == name }
        case .finished(.failure):
            return false
        case .interrupted:
            throw ReportedFailure(exitCode: ClientExit.interrupted)
        case .timedOut:
            Output.error(CallRunner.timeoutMessage(options, textShown: false))
            throw ReportedFailure(exitCode: ClientExit.upstreamError)
        }
    }
}
