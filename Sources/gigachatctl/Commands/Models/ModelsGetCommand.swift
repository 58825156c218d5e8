import ArgumentParser
import GigaChatProtocol

/// `gigachatctl models get ID`: one model's description.
struct ModelsGetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show one model.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The model's id, e.g. GigaChat-2-Pro.", valueName: "id"), completion: Completions.allModels)
    var id: String

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.modelsGet, params: ["id": .string(id)], options: connection) { result in
                Output.write(Table.keyValue(result.flattened()))
            }
        }
    }
}
