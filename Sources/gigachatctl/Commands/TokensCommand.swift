import ArgumentParser
import GigaChatProtocol

/// `gigachatctl tokens`: how many tokens texts take for a model.
struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Count the tokens of texts.",
        discussion: "Each TEXT is counted separately; with none, standard input is one text."
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Model whose tokenizer counts (default: $GIGACHATCTL_MODEL, else the daemon's GIGACHAT_MODEL).", valueName: "name"),
        completion: Completions.chatModels
    )
    var model: String?

    @Argument(help: ArgumentHelp("Texts to count.", valueName: "text"))
    var texts: [String] = []

    func run() throws {
        try reportingFailures {
            let inputs = try TextInputs.resolve(texts)
            var params: JSONObject = ["input": .array(inputs.map(JSONValue.string))]
            if let model = try model ?? ClientConfig.loadOrFail().model { params["model"] = .string(model) }
            try CallRunner.run(RPCMethod.tokensCount, params: params, options: connection) { result in
                var table = Table(["TOKENS", "CHARACTERS", "TEXT"], rightAligned: [0, 1])
                for (index, entry) in (result.arrayValue ?? []).enumerated() {
                    let text = index < inputs.count ? inputs[index] : ""
                    table.add([entry["tokens"]?.displayText ?? "-", entry["characters"]?.displayText ?? "-", text.cell(maxWidth: 50)])
                }
                Output.write(table.render())
            }
        }
    }
}
