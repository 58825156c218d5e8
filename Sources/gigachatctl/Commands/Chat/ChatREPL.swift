import ArgumentParser
import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `gigachatctl chat -i`: a conversation, one turn per line, each reply streamed.
///
/// The history lives here (sent in full with every turn), or in gigachatd when a conversation name is
/// given, in which case only the new turn is sent and the daemon prepends what it stored.
final class ChatREPL {
    private var settings: ChatSettings
    private let connection: ConnectionOptions
    private let raw: Bool
    private let usage: Bool
    private var client: DaemonClient?
    private let editor = LineEditor(historyFile: HistoryFile.standard(limit: LineEditor.maxHistory))
    private let style = Style.standardOutput
    /// User and assistant turns so far (not the system prompt); unused with a daemon conversation.
    private var history: [JSONValue]
    /// With a daemon conversation the system prompt is sent once, with the turn after it changed.
    private var systemChanged: Bool
    /// Text of -f files, added to the first turn.
    private var context: [String]
    /// Files to send with the next turn (--attach for the first, then /attach).
    private var attachments: [String]
    /// The status to leave with when standard input ends: that of the last turn, as a script expects.
    private var lastFailure: ExitCode?

    private static let prompt = "› "
    private static let continuationPrompt = "… "
    /// A turn of several lines is typed between two lines of three quotes, as in ollama.
    private static let blockQuotes = "\"\"\""

    init(settings: ChatSettings, connection: ConnectionOptions, raw: Bool, usage: Bool, context: [String], attachments: [String] = []) {
        self.settings = settings
        self.connection = connection
        self.raw = raw
        self.usage = usage
        self.context = context
        self.attachments = attachments
        history = settings.history
        systemChanged = settings.system != nil
    }

    static let help = """
        /reset           forget the conversation (with -c: delete it in gigachatd, after asking)
        /model NAME      use another model from the next turn on (/model alone shows it)
        /system TEXT     set the system prompt (/system alone removes it)
        /web [on|off]    web search (alone: switch it over); /urls, /code, /image likewise:
                         reading pages, running code, drawing (images are saved in --output-dir)
        /reasoning LEVEL low, medium, high or off (alone: shows it)
        /schema SCHEMA   answer in JSON following a JSON Schema, a file or the schema itself; off
        /regex RE        answer with text matching RE; off
        /attach FILE     send FILE with the next turn (alone: lists them; /attach off drops them)
        /settings        show what the next turn is sent with
        /exit            leave (as do Ctrl-D and /quit)
        \"\"\"              start or end a turn of several lines
        Ctrl-C cancels a reply; Up/Down recall earlier lines; a paste is one turn.
        """

    func run(firstPrompt: String?) throws {
        client = try connection.connect()
        if editor.isTerminal { greet() }
        if let firstPrompt { ask(firstPrompt) }
        while true {
            switch editor.readLine(prompt: style.green(Self.prompt), promptWidth: 2) {
            case .endOfInput:
                if let lastFailure, !editor.isTerminal { throw ReportedFailure(exitCode: lastFailure) }
                return
            case .interrupted:
                if !editor.isTerminal { throw ReportedFailure(exitCode: ClientExit.interrupted) }
            case .line(let line):
                let text = line.trimmingCharacters(in: " \t")
                if text.isEmpty { continue }
                if text.hasPrefix(Self.blockQuotes) {
                    guard let block = readBlock(after: String(text.dropFirst(Self.blockQuotes.count))) else { continue }
                    ask(block)
                } else if text.hasPrefix("/"), !text.contains("\n") {
                    guard command(String(text)) else { return }
                } else {
                    ask(String(line.trimmingTrailingNewlines()))
                }
            }
        }
    }

    private func greet() {
        var subject: String
        if let conversation = settings.conversation {
            var isNew = false
            if let client {
                do {
                    isNew = try ConversationCheck.isNew(conversation, client: client, options: connection)
                } catch {
                    // Said already; the next turn connects afresh.
                    lastFailure = (error as? ReportedFailure)?.exitCode ?? ClientExit.daemonUnavailable
                    self.client = nil
                }
            }
            subject = isNew ? "new conversation \(conversation)" : "conversation \(conversation)"
        } else if !history.isEmpty {
            subject = "the last chat (\(history.count / 2) turns so far)"
        } else {
            subject = "a new conversation"
        }
        if let model = settings.model { subject += " with \(model)" }
        Output.line(style.dim("Talking in \(subject). /help for commands, Ctrl-D to leave."))
    }

    /// The lines up to the one that ends with three quotes; nil if Ctrl-C or the end of input came first.
    private func readBlock(after first: String) -> String? {
        var lines: [String] = []
        var current = first
        while true {
            if current.hasSuffix(Self.blockQuotes) {
                lines.append(String(current.dropLast(Self.blockQuotes.count)))
                break
            }
            lines.append(current)
            switch editor.readLine(prompt: style.dim(Self.continuationPrompt), promptWidth: 2) {
            case .line(let line): current = line
            case .interrupted, .endOfInput: return nil
            }
        }
        let block = lines.joined(separator: "\n").trimmingCharacters(in: "\n")
        return block.isEmpty ? nil : String(block)
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
            if let conversation = settings.conversation {
                guard confirm("Delete conversation \(conversation) in gigachatd? [y/N] ") else {
                    note("Kept conversation \(conversation).")
                    return true
                }
                history.removeAll()
                forget(conversation)
            } else {
                history.removeAll()
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
                note(
                    settings.conversation == nil
                        ? "System prompt removed."
                        : "System prompt no longer sent; the one stored in the conversation stays until /reset.")
            } else {
                note("System prompt set.")
            }
        case "/web", "/urls", "/code", "/image":
            let tool: BuiltInTool
            switch name {
            case "/web": tool = .webSearch
            case "/urls": tool = .readURLs
            case "/code": tool = .code
            default: tool = .image
            }
            toggle(tool, argument: argument, command: String(name))
        case "/reasoning":
            switch argument {
            case "":
                note("Reasoning: \(settings.reasoning?.rawValue ?? "off (the model's default)").")
            case "off":
                settings.reasoning = nil
                note("Reasoning: off (the model's default).")
            default:
                guard let effort = ReasoningEffort(rawValue: argument) else {
                    note("/reasoning takes low, medium, high or off.")
                    return true
                }
                settings.reasoning = effort
                note("Reasoning: \(effort.rawValue).")
            }
        case "/schema":
            guard requireV2("/schema") else { return true }
            switch argument {
            case "":
                note(settings.schema.map { "Schema: \($0.jsonText)" } ?? "No schema: the reply is free text.")
            case "off":
                settings.schema = nil
                note("No schema: the reply is free text.")
            default:
                do {
                    settings.schema = try ChatOptions.schema(from: argument, option: "/schema")
                    settings.regex = nil
                    note("The reply will be JSON following the schema.")
                } catch {
                    // Said already.
                }
            }
        case "/regex":
            guard requireV2("/regex") else { return true }
            switch argument {
            case "":
                note(settings.regex.map { "Regex: \($0)" } ?? "No regex: the reply is free text.")
            case "off":
                settings.regex = nil
                note("No regex: the reply is free text.")
            default:
                settings.regex = argument
                settings.schema = nil
                note("The reply will match \(argument).")
            }
        case "/attach":
            switch argument {
            case "":
                note(attachments.isEmpty ? "Nothing is attached to the next turn." : "Attached to the next turn: \(attachments.joined(separator: ", ")).")
            case "off":
                attachments = []
                note("Nothing is attached to the next turn.")
            default:
                var info = stat()
                guard access(argument, R_OK) == 0, stat(argument, &info) == 0 else {
                    note("Cannot read \(argument): \(ErrorCause.lastErrno.description).")
                    return true
                }
                guard info.st_mode & S_IFMT == S_IFREG else {
                    note("\(argument) is not a regular file.")
                    return true
                }
                attachments.append(argument)
                note("\(argument) goes with the next turn.")
            }
        case "/settings":
            note(describeSettings())
        default:
            note("Unknown command \(name). /help lists the commands.")
        }
        return true
    }

    /// /web, /urls, /code, /image: on, off, or (alone) the other way round.
    private func toggle(_ tool: BuiltInTool, argument: String, command: String) {
        guard requireV2(command) else { return }
        let on: Bool
        switch argument {
        case "": on = !settings.tools.contains(tool)
        case "on": on = true
        case "off": on = false
        default:
            note("\(command) takes on or off.")
            return
        }
        settings.tools.removeAll { $0 == tool }
        if on { settings.tools.append(tool) }
        note("\(Self.toolName(tool)): \(on ? "on" : "off").")
    }

    private func requireV2(_ command: String) -> Bool {
        guard settings.api == .v1 else { return true }
        note("\(command) needs the v2 chat contract; this chat uses v1 (--api v1).")
        return false
    }

    private static func toolName(_ tool: BuiltInTool) -> String {
        switch tool {
        case .webSearch: return "Web search"
        case .readURLs: return "Reading pages"
        case .code: return "Running code"
        case .image: return "Drawing"
        }
    }

    /// One line: contract, model, tools and the rest that is set.
    private func describeSettings() -> String {
        var items = ["API \(settings.api.rawValue)", "model \(settings.model ?? "the daemon's default")"]
        items.append(settings.tools.isEmpty ? "no tools" : "tools: " + settings.tools.map(\.rawValue).joined(separator: ", "))
        if let reasoning = settings.reasoning { items.append("reasoning \(reasoning.rawValue)") }
        if settings.schema != nil { items.append("JSON schema") }
        if let regex = settings.regex { items.append("regex \(regex)") }
        if !attachments.isEmpty { items.append("attached: " + attachments.joined(separator: ", ")) }
        if settings.tools.contains(.image) { items.append("images go to \(settings.outputDirectory)") }
        return items.joined(separator: "; ") + "."
    }

    /// A yes/no question on a terminal; a script's /reset means what it says.
    private func confirm(_ question: String) -> Bool {
        guard editor.isTerminal else { return true }
        guard case .line(let answer) = editor.readLine(prompt: style.yellow(question), promptWidth: question.terminalWidth, remember: false)
        else { return false }
        return ["y", "yes", "д", "да"].contains(answer.trimmingCharacters(in: " \t").lowercased())
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
            lastFailure = (error as? ReportedFailure)?.exitCode ?? ClientExit.daemonUnavailable
            return nil  // connect() has said why
        }
    }

    /// Deletes the daemon's copy of the conversation; a conversation never saved is fine.
    private func forget(_ conversation: String) {
        guard let client = connected() else { return }
        do {
            switch try client.call(RPCMethod.conversationsDelete, params: ["name": .string(conversation)], limits: connection.limits) {
            case .finished(.success):
                note("Conversation \(conversation) deleted; it starts afresh.")
            case .finished(.failure(let error)) where error.code == .localError:
                note("Conversation \(conversation) starts afresh.")  // it was never saved
            case .finished(.failure(let error)):
                Output.error(ClientExit.describe(error))
            case .interrupted, .timedOut:
                break
            }
        } catch {
            lastFailure = connection.report(error).exitCode
            self.client = nil
        }
    }

    /// One turn: sends the question with the history, streams the answer, remembers both.
    private func ask(_ typed: String) {
        let text = ([typed] + context).joined(separator: "\n\n")
        guard let client = connected() else { return }
        do {
            let question = try ChatExchange.question(text, attachments: attachments, client: client, connection: connection)
            var messages: [JSONValue] = []
            if settings.conversation == nil {
                if let system = settings.systemMessage { messages.append(system) }
                messages += history
            } else if systemChanged, let system = settings.systemMessage {
                messages.append(system)
            }
            messages.append(question)
            let exchange = ChatExchange(settings: settings, connection: connection, raw: raw, usage: usage)
            let reply = try exchange.run(messages, client: client)
            history.append(question)
            history.append(reply.historyMessage)
            context = []
            attachments = []
            systemChanged = false
            lastFailure = nil
            settings.lastChat(turns: history).save()
        } catch let failure as ReportedFailure {
            lastFailure = failure.exitCode
            if failure.exitCode == ClientExit.interrupted { note("(cancelled)") }
            if failure.exitCode == ClientExit.daemonUnavailable { self.client = nil }
        } catch {
            lastFailure = ClientExit.upstreamError
        }
    }
}
