import ArgumentParser
import GigaChatProtocol

/// `gigachatctl files upload PATH`: gigachatd reads the file and uploads it.
struct FilesUploadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload a file; prints its id and metadata.",
        discussion: "gigachatd reads the file itself (it runs as you), so PATH is sent as an absolute path."
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(
        name: .long,
        help: ArgumentHelp("What the file is for: general (the API's default) or assistant.", valueName: "purpose"),
        completion: .list(["general", "assistant"])
    )
    var purpose: String?

    @Option(name: .long, help: ArgumentHelp("Content type (default: guessed from the file name's extension).", valueName: "type"))
    var mime: String?

    @Argument(help: ArgumentHelp("The file to upload.", valueName: "path"), completion: .file())
    var path: String

    func run() throws {
        var params: JSONObject = ["path": .string(LocalFile.absolutePath(path))]
        if let purpose { params["purpose"] = .string(purpose) }
        if let mime { params["mime"] = .string(mime) }
        try reportingFailures {
            try CallRunner.run(RPCMethod.filesUpload, params: params, options: connection) { result in
                Output.write(FileText.describe(result))
            }
        }
    }
}
