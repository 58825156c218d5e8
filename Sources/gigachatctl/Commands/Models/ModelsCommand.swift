import ArgumentParser

/// `gigachatctl models`: the models the key may use (`list`, the default) and one model (`get`).
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the available models, or show one.",
        subcommands: [ModelsListCommand.self, ModelsGetCommand.self],
        defaultSubcommand: ModelsListCommand.self
    )
}
