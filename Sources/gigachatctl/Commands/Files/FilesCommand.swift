import ArgumentParser

/// `gigachatctl files`: files stored with the API, for attachments in chat messages.
struct FilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files",
        abstract: "Upload, list, show and delete files stored with the API.",
        discussion: """
            Uploaded files can be attached to a chat message by id ("attachments": [ID]) through the \
            protocol; see docs/PROTOCOL.md.
            """,
        subcommands: [FilesListCommand.self, FilesUploadCommand.self, FilesGetCommand.self, FilesDeleteCommand.self],
        defaultSubcommand: FilesListCommand.self
    )
}
