import ArgumentParser
import Weights
import WeightsEngine

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text, as a GGUF model's tokenizer splits it.",
        discussion: """
            One line per token: the id and its vocabulary text (▁ is a space). The BOS token is \
            added as the model asks, and special tokens written in the text are read as \
            themselves. --json prints {"ids": [...], "pieces": [...]}. The default model is the \
            one `weights generate` uses.
            """
    )

    @Option(help: "The GGUF file.") var model: String?
    @Argument(help: "The text (default: standard input).") var text: String?
    @Flag(help: "Leave out the BOS and EOS tokens.") var noSpecial = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let path = model ?? LanguageModel.defaultPath
        let languageModel = try WeightsError.tagging(file: path) { try LanguageModel(path: path) }
        let ids = languageModel.tokenize(text ?? GenerateCommand.standardInput(), addSpecial: !noSpecial)
        let pieces = ids.map(languageModel.piece)
        if json {
            print(JSONValue.object([("ids", .array(ids.map(JSONValue.int))), ("pieces", .array(pieces.map(JSONValue.string)))])
                .serialized())
        } else {
            for (id, piece) in zip(ids, pieces) { print(id, piece, separator: "\t") }
        }
    }
}
