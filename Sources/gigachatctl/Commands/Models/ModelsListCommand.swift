import ArgumentParser
import GigaChatProtocol

/// `gigachatctl models list`: a table of the available models.
struct ModelsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the available models.")

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.models, options: connection) { result in
                var table = Table(["ID", "TYPE", "OWNED BY"])
                for model in result["data"]?.arrayValue ?? [] {
                    table.add([model["id"]?.displayText ?? "-", model["type"]?.displayText ?? "-", model["owned_by"]?.displayText ?? "-"])
                }
                Output.write(table.render())
            }
        }
    }
}
