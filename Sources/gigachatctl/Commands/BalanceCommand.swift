import ArgumentParser
import GigaChatProtocol

/// `gigachatctl balance`: what is left of each prepaid package.
struct BalanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balance",
        abstract: "Show the tokens left per model (prepaid packages only).",
        discussion: "Pay-as-you-go accounts have no balance; the API answers 403 for them."
    )

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        try reportingFailures {
            try CallRunner.run(RPCMethod.balance, options: connection) { result in
                var table = Table(["USAGE", "LEFT"], rightAligned: [1])
                for entry in result["balance"]?.arrayValue ?? [] {
                    table.add([entry["usage"]?.displayText ?? "-", entry["value"]?.displayText ?? "-"])
                }
                Output.write(table.render())
            }
        }
    }
}
