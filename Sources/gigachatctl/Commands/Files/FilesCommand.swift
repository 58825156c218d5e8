import ArgumentParser

/// `gigachatctl files`: files stored with the API, for attachments in chat messages.
struct FilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files",
        abstract: "Upload, list, show, download and delete files stored with the API.",
        discussion: """
            gigachatctl chat --attach FILE uploads a file and sends it with the prompt; through the \
            protocol, a chat.create message refers to an uploaded file by id ({"files":[{"id":ID}]}); \
            see docs/PROTOCOL.md.
            """,
        subcommands: [
            FilesListCommand.self, FilesUploadCommand.self, FilesGetCommand.self, FilesDownloadCommand.self, FilesDeleteCommand.self,
        ],
        defaultSubcommand: FilesListCommand.self
    )
}
