import ArgumentParser
import GigaChatProtocol

/// `gigachatctl chat -i`: a conversation, one turn per line, each reply streamed.
///
/// The history lives here (sent in full with every turn), or in gigachatd when a conversation name is
/// given, in which case only the new turn is sent and the daemon prepends what it stored.
final class ChatREPL {
    private var settings: ChatSettings
    private let connection: ConnectionOptions
    private var client: DaemonClient?
    private let editor = LineEditor()
    private let style = Style.standardOutput
    private let filter: TerminalFilter
    /// User and assistant turns so far (not the system prompt); unused with a daemon conversation.
    private var history: [JSONValue] = []
    /// With a daemon conversation the system prompt is sent once, with the turn after it changed.
    private var systemChanged: Bool
    /// The status to leave with when standard input ends: that of the last turn, as a script expects.
    private var lastFailure: ExitCode?

    init(settings: ChatSettings, connection: ConnectionOptions, filter: TerminalFilter) {
        self.settings = settings
        self.connection = connection
        self.filter = filter
        systemChanged = settings.system != nil
    }

    static let help = """
        /reset         forget the conversation (with -c: delete it in gigachatd)
        /model NAME    use another model from the next turn on (/model alone shows it)
        /system TEXT   set the system prompt (/system alone removes it)
        /exit          leave (as do Ctrl-D and /quit)
        Ctrl-C cancels a reply; Up/Down recall earlier lines.
        """

    func run(firstPrompt: String?) throws {
        client = try connection.connect()
        if editor.isTerminal {
            var subject = settings.conversation.map { "conversation \($0)" } ?? "a new conversation"
            if let model = settings.model { subject += " with \(model)" }
            Output.line(style.dim("Talking in \(subject). /help for commands, Ctrl-D to leave."))
        }
        if let firstPrompt { ask(firstPrompt) }
        while true {
            switch editor.readLine(prompt: style.green("› "), promptWidth: 2) {
            case .endOfInput:
                if let lastFailure, !editor.isTerminal { throw ReportedFailure(exitCode: lastFailure) }
                return
            case .interrupted:
                if !editor.isTerminal { throw ReportedFailure(exitCode: ClientExit.interrupted) }
            case .line(let line):
                let text = line.trimmingCharacters(in: " \t")
                if text.isEmpty { continue }
                if text.hasPrefix("/") {
                    guard command(String(text)) else { return }
                } else {
                    ask(line)
                }
            }
        }
    }

    /// Runs a /command; false means leave.
    private func command(_ line: String) -> Bool {
        let name = line.prefix { $0 != " " }
        let argument = String(String(line.dropFirst(name.count)).trimmingCharacters(in: " \t"))
        switch name {
        case "/exit", "/quit", "/q":
            return false
        case "/help", "/?":
            Output.write(style.dim(Self.help) + "\n")
        case "/reset":
            history.removeAll()
            if let conversation = settings.conversation {
                forget(conversation)
            } else {
                note("The conversation starts afresh.")
            }
        case "/model":
            if argument.isEmpty {
                note("Model: \(settings.model ?? "the daemon's default (GIGACHAT_MODEL)").")
            } else {
                settings.model = argument
                note("Model: \(argument).")
            }
        case "/system":
            settings.system = argument.isEmpty ? nil : argument
            systemChanged = !argument.isEmpty
            if argument.isEmpty {
                note(settings.conversation == nil
                    ? "System prompt removed."
                    : "System prompt no longer sent; the one stored in the conversation stays until /reset.")
            } else {
                note("System prompt set.")
            }
        default:
            note("Unknown command \(name). /help lists the commands.")
        }
        return true
    }

    private func note(_ text: String) {
        Output.line(style.dim(text))
    }

    private func connected() -> DaemonClient? {
        if let client { return client }
        do {
            let fresh = try connection.connect()
            client = fresh
            return fresh
        } catch {
            lastFailure = ClientExit.daemonUnavailable
            return nil  // connect() has said why
        }
    }

    /// Deletes the daemon's copy of the conversation; a conversation never saved is fine.
    private func forget(_ conversation: String) {
        guard let client = connected() else { return }
        do {
            switch try client.call(RPCMethod.conversationsDelete, params: ["name": .string(conversation)]) {
            case .finished(.success):
                note("Conversation \(conversation) deleted; it starts afresh.")
            case .finished(.failure(let error)) where error.code == .localError:
                note("Conversation \(conversation) starts afresh.")  // it was never saved
            case .finished(.failure(let error)):
                Output.error(ClientExit.describe(error))
            case .interrupted:
                break
            }
        } catch {
            lost(error)
        }
    }

    private func lost(_ error: ConnectError) {
        Output.error("lost the connection to gigachatd: \(error.reason)")
        client = nil
        lastFailure = ClientExit.daemonUnavailable
    }

    /// One turn: sends the question with the history, streams the answer, remembers both.
    private func ask(_ text: String) {
        let question: JSONValue = ["role": "user", "content": .string(text)]
        var messages: [JSONValue] = []
        let system: JSONValue? = settings.system.map { ["role": "system", "content": .string($0)] }
        if settings.conversation == nil {
            if let system { messages.append(system) }
            messages += history
        } else if systemChanged, let system {
            messages.append(system)
        }
        messages.append(question)

        guard let client = connected() else { return }
        let printer = ChatPrinter(style: style, filter: filter)
        client.willWait = printer.flush
        defer { client.willWait = nil }
        do {
            let outcome = try client.call(RPCMethod.chat, params: settings.params(messages: messages)) { method, params in
                if method == RPCMethod.chatDelta { printer.delta(params) }
            }
            switch outcome {
            case .finished(.success(let result)):
                printer.finish(result)
                history.append(question)
                history.append(Self.assistantMessage(result))
                systemChanged = false
                lastFailure = nil
            case .finished(.failure(let error)):
                printer.abandon()
                Output.error(ClientExit.describe(error))
                lastFailure = ClientExit.code(for: error)
            case .interrupted:
                printer.abandon()
                note("(cancelled)")
                lastFailure = ClientExit.interrupted
            }
        } catch {
            printer.abandon()
            lost(error)
        }
    }

    /// The reply as the next turn's history wants it (a function call kept with its state id).
    static func assistantMessage(_ result: JSONValue) -> JSONValue {
        let reply = result["choices"]?[0]?["message"]?.objectValue ?? [:]
        var message: JSONObject = ["role": "assistant", "content": reply["content"] ?? ""]
        for key in ["function_call", "functions_state_id"] {
            if let value = reply[key] { message[key] = value }
        }
        return .object(message)
    }
}
