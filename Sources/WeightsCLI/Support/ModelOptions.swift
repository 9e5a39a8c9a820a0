import ArgumentParser
import Weights
import WeightsEngine

/// Options shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "The model directory (sentence-transformers layout).")
    var model: String?

    @Option(help: "Convert the weights as they load: f32, f16 or int8, as `weights convert --dtype` writes them. A file already in F16 or INT8 runs as it is.",
            transform: { text in
                guard let precision = WeightPrecision(rawValue: text.lowercased()) else {
                    throw ValidationError("unknown dtype '\(text)': expected f32, f16 or int8")
                }
                return precision
            })
    var dtype: WeightPrecision?

    @Option(help: "Cores to use (default: all).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// Loads the model.
    func load() throws -> SentenceEmbedder {
        try SentenceEmbedder(modelDirectory: model ?? ModelDirectory.default, precision: dtype, threads: threads,
                             formats: Checkpoint.allFormats)
    }
}
