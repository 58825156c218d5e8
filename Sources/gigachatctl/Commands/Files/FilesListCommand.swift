import ArgumentParser
import GigaChatProtocol

/// `gigachatctl files list`: a table of the stored files.
struct FilesListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the stored files.")

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.filesList, options: connection) { result in
                let files = result["data"]?.arrayValue ?? []
                guard !files.isEmpty else {
                    Output.line(Style.standardOutput.dim("No files."))
                    return
                }
                var table = Table(["ID", "BYTES", "CREATED", "PURPOSE", "FILENAME"], rightAligned: [1])
                for file in files {
                    table.add([
                        file["id"]?.displayText ?? "-", file["bytes"]?.displayText ?? "-",
                        file["created_at"]?.intValue.map(TimeText.local) ?? "-",
                        file["purpose"]?.displayText ?? "-", file["filename"]?.displayText ?? "-",
                    ])
                }
                Output.write(table.render())
            }
        }
    }
}
