import ArgumentParser
import Weights
import WeightsEngine

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print sentence embeddings, one vector per text.",
        discussion: """
            Each TEXT is one input; with no TEXT, each line of standard input is one. Vectors \
            come out in input order: one line of space-separated numbers per input, or with \
            --json a JSON array holding one array of numbers per input. The default model is \
            the one scripts/setup installs ($WEIGHTS_MODEL_DIR, else \
            ${WEIGHTS_MODELS:-~/.cache/weights/models}/all-MiniLM-L6-v2).
            """
    )

    @OptionGroup var model: ModelOptions

    @Flag(help: "Print a JSON array of arrays instead of one line per vector.")
    var json = false

    @Argument(help: "Texts to embed (default: one per line of standard input).")
    var texts: [String] = []

    func run() throws {
        let embedder = try model.load()
        var output = VectorPrinter(json: json)
        for batch in TextInput(arguments: texts).batches(of: 64) {
            for vector in try embedder.embed(batch) { output.print(vector) }
        }
        output.finish()
    }
}
