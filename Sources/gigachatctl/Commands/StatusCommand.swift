import ArgumentParser
import GigaChatProtocol

/// `gigachatctl status`: the daemon's state, as aligned `key  value` lines or JSON.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the daemon's state: version, upstream, token, requests.",
        discussion: "Never shows a token or a credential: gigachatd does not hand them out."
    )

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.status, options: connection) { result in
                Output.write(Table.keyValue(result.flattened()))
            }
        }
    }
}
