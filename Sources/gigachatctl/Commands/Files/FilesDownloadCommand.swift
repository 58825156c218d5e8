import ArgumentParser
import GigaChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `gigachatctl files download ID [PATH]`: a stored file's bytes (an upload, or an image the model made).
struct FilesDownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Save a stored file: an upload, or an image the model made.",
        discussion: """
            gigachatd writes PATH itself, as a new file only readable by you; a file that exists is \
            never replaced. PATH may be a directory to save into; - writes the bytes to standard \
            output. Without PATH the file goes into the current directory under its stored name (else \
            its id). Prints the path written.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The file's id.", valueName: "id"), completion: Completions.fileIDs)
    var id: String

    @Argument(help: ArgumentHelp("Where to save it: a new file, a directory, or - for standard output.", valueName: "path"), completion: .file())
    var path: String?

    func validate() throws {
        if id.isEmpty { throw ValidationError("the file id is empty") }
        if let path, path.isEmpty { throw ValidationError("the path is empty; give - for standard output") }
    }

    func run() throws {
        try reportingFailures {
            let client = try connection.connect()
            if path == "-" {
                let result = try CallRunner.perform(RPCMethod.filesContent, params: ["id": .string(id)], options: connection, client: client)
                guard !connection.json else { return }
                guard let bytes = result["content_base64"]?.stringValue.flatMap(Base64.decode) else {
                    Output.error("gigachatd's answer holds no readable file content")
                    throw ReportedFailure(exitCode: ClientExit.upstreamError)
                }
                Output.write(bytes: bytes)
                return
            }
            let target = try destination(client: client)
            let result = try CallRunner.perform(
                RPCMethod.filesContent, params: ["id": .string(id), "path": .string(target)], options: connection, client: client
            )
            if !connection.json { Output.line(TerminalFilter.standardOutput()(result["path"]?.stringValue ?? target)) }
        }
    }

    /// The absolute path to write: PATH, or a name inside PATH (a directory) or the current directory.
    private func destination(client: DaemonClient) throws -> String {
        var directory = "."
        if let path {
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return LocalFile.absolutePath(path) }
            directory = path
        }
        let name = try storedName(client: client)
        // "report.pdf" becomes "report-2.pdf" when taken, not "report.pdf-2".
        if let dot = name.lastIndex(of: "."), dot != name.startIndex, name.index(after: dot) != name.endIndex {
            return GeneratedFiles.freePath(
                in: LocalFile.absolutePath(directory), name: String(name[..<dot]), extension: String(name[name.index(after: dot)...]))
        }
        return GeneratedFiles.freePath(in: LocalFile.absolutePath(directory), name: name, extension: nil)
    }

    /// The stored file name without any directory, from `files.get`; the id when there is none.
    private func storedName(client: DaemonClient) throws -> String {
        // Only a name is wanted here: a failure is the download's to report.
        guard case .finished(.success(let file)) = try? client.call(RPCMethod.filesGet, params: ["id": .string(id)], limits: connection.limits),
            let stored = file["filename"]?.stringValue,
            let base = stored.split(separator: "/").last.map(String.init)
        else { return GeneratedFiles.safeName(id) }
        let name = GeneratedFiles.safeName(base)
        return name == "file" && base != "file" ? GeneratedFiles.safeName(id) : name
    }
}
