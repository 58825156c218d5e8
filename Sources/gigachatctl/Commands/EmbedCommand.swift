import ArgumentParser
import GigaChatProtocol

/// `gigachatctl embed`: embedding vectors of texts.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Compute embedding vectors of texts.",
        discussion: """
            Each TEXT is embedded separately; with none, standard input is one text. People get a \
            summary (dimensions and the first values); use --json for the vectors, for example \
            gigachatctl embed --json "text" | jq -c '.result.data[].embedding'.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Embeddings model (default: Embeddings).", valueName: "name"),
        completion: Completions.embeddingModels
    )
    var model: String?

    @Argument(help: ArgumentHelp("Texts to embed.", valueName: "text"))
    var texts: [String] = []

    func run() throws {
        try reportingFailures {
            let inputs = try TextInputs.resolve(texts)
            var params: JSONObject = ["input": .array(inputs.map(JSONValue.string))]
            if let model { params["model"] = .string(model) }
            try CallRunner.run(RPCMethod.embeddings, params: params, options: connection) { result in
                var table = Table(["INDEX", "TOKENS", "DIMENSIONS", "VECTOR", "TEXT"], rightAligned: [0, 1, 2])
                for entry in result["data"]?.arrayValue ?? [] {
                    let index = entry["index"]?.intValue.map(Int.init) ?? 0
                    let vector = entry["embedding"]?.arrayValue ?? []
                    let head = vector.prefix(3).map(\.displayText).joined(separator: ", ")
                    table.add([
                        String(index), entry["usage"]?["prompt_tokens"]?.displayText ?? "-", String(vector.count),
                        "[" + head + (vector.count > 3 ? ", …]" : "]"),
                        index < inputs.count ? inputs[index].cell(maxWidth: 40) : "",
                    ])
                }
                Output.write(table.render())
                if let model = result["model"]?.stringValue { Output.line(Style.standardOutput.dim("model: \(model)")) }
            }
        }
    }
}
