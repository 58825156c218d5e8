import ArgumentParser
import GigaChatProtocol

/// `gigachatctl files delete ID`: removes a stored file.
struct FilesDeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a stored file.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The file's id.", valueName: "id"), completion: Completions.fileIDs)
    var id: String

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.filesDelete, params: ["id": .string(id)], options: connection) { result in
                let deleted = result["deleted"]?.boolValue ?? false
                Output.line(deleted ? "Deleted \(id)." : "The API did not delete \(id).")
            }
            // chat --attach must not refer to it again.
            Attachments.forget(id: id)
        }
    }
}
