import ArgumentParser
import GigaChatProtocol

/// `gigachatctl status`: the daemon's state, as a table or JSON.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the daemon's state.")

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        do {
            try CallRunner.run(RPCMethod.status, options: connection) { result in
                for (key, value) in result.objectValue ?? [:] {
                    if case .object(let inner) = value {
                        for (innerKey, innerValue) in inner {
                            Output.line(Self.row("\(key).\(innerKey)", innerValue))
                        }
                    } else {
                        Output.line(Self.row(key, value))
                    }
                }
            }
        } catch {
            throw Self.exitCode(for: error)
        }
    }

    static func row(_ key: String, _ value: JSONValue) -> String {
        let text = value.stringValue ?? value.jsonText
        return key.padding(to: 22) + text
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
