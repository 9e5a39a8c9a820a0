import ArgumentParser
import Weights
import WeightsEngine

/// Options shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "The model directory (sentence-transformers layout).")
    var model: String?

    @Option(help: "Convert the weights as they load: f32, f16, int8, int4 or f8_e4m3, as `weights convert --dtype` writes them (int4 and f8_e4m3: the linear layers; int4 is meant for large models). A file already in F16, INT8 or a compressed-tensors layout runs as it is.",
            transform: { text in
                guard let precision = WeightPrecision(rawValue: text.lowercased()) else {
                    throw ValidationError("unknown dtype '\(text)': expected f32, f16, int8, int4 or f8_e4m3")
                }
                return precision
            })
    var dtype: WeightPrecision?

    @Option(help: "The arithmetic of the linear layers: f32 (default), or int8 for integer products on INT8 weights (the layers' float weights are quantized as they load; needs --dtype int8 or none). Spec/int8-compute.md.",
            transform: { text in
                guard let compute = ComputePrecision(rawValue: text.lowercased()) else {
                    throw ValidationError("unknown compute '\(text)': expected f32 or int8")
                }
                return compute
            })
    var compute: ComputePrecision = .f32

    @Option(help: "Cores to use (default: all).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if compute == .int8, let dtype, dtype != .int8 {
            throw ValidationError("--compute int8 runs on INT8 weights: use --dtype int8 (or leave --dtype out), not \(dtype.rawValue)")
        }
    }

    /// Loads the model.
    func load() throws -> SentenceEmbedder {
        try SentenceEmbedder(modelDirectory: model ?? ModelDirectory.default, precision: dtype, compute: compute,
                             threads: threads,
                             formats: Checkpoint.allFormats)
    }
}
