import ArgumentParser
import GigaChatProtocol

/// `gigachatctl files get ID`: one stored file's metadata.
struct FilesGetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show a stored file's metadata.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The file's id.", valueName: "id"), completion: Completions.fileIDs)
    var id: String

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.filesGet, params: ["id": .string(id)], options: connection) { result in
                Output.write(FileText.describe(result))
            }
        }
    }
}
