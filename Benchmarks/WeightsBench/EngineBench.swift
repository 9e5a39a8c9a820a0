import Foundation
import Weights
import WeightsEngine

/// Benchmarks of the inference engine on the default model (or `$WEIGHTS_MODEL_DIR`).
///
/// IDS is a JSON array of token-id arrays, one per sentence, so that Weights and the anchor
/// run on exactly the same input and tokenization stays out of the timing.
enum EngineBench {
    /// `engine-throughput IDS [--threads N] [--dtype f32|f16|int8] [--compute f32|int8] [--repeat N]`: embed the
    /// whole batch N times, after one warm-up run.
    static func throughput(_ arguments: [String]) throws {
        let batch = try loadIDs(arguments[0])
        let model = try EmbeddingModel(modelDirectory: ModelDirectory.default, precision: precision(arguments),
                                       compute: compute(arguments),
                                       threads: option("threads", in: arguments, default: Processor.availableCores))
        _ = try model.embed(tokenIDs: batch, batchSize: batch.count)
        let seconds = try Timing.measure(repeats: option("repeat", in: arguments, default: 5)) {
            _ = try model.embed(tokenIDs: batch, batchSize: batch.count)
        }
        Timing.report("engine-throughput", seconds,
                      extra: "\"sentences\":\(batch.count),\"tokens\":\(batch.reduce(0) { $0 + $1.count })," +
                             "\"blas_core\":\"\(BLASRuntime.coreName)\"")
    }

    /// `engine-memory IDS [--dtype f32|f16|int8]`: load, embed the batch once, and report
    /// resident memory (current and peak, bytes) from /proc/self/status.
    static func memory(_ arguments: [String]) throws {
        let batch = try loadIDs(arguments[0])
        let start = Timing.now()
        let model = try EmbeddingModel(modelDirectory: ModelDirectory.default, precision: precision(arguments),
                                       compute: compute(arguments))
        _ = try model.embed(tokenIDs: batch, batchSize: batch.count)
        let seconds = Timing.now() - start
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func kilobytes(_ key: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(key + ":") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        Timing.report("engine-memory", [seconds],
                      extra: "\"rss\":\(kilobytes("VmRSS") * 1024),\"peak_rss\":\(kilobytes("VmHWM") * 1024)," +
                             "\"weight_bytes\":\(model.encoder.weightByteCount)")
    }

    static func compute(_ arguments: [String]) throws -> ComputePrecision {
        guard let index = arguments.firstIndex(of: "--compute"), index + 1 < arguments.count else { return .f32 }
        guard let compute = ComputePrecision(rawValue: arguments[index + 1]) else {
            throw WeightsError(.invalidArgument, "unknown compute '\(arguments[index + 1])'")
        }
        return compute
    }

    static func loadIDs(_ path: String) throws -> [[Int32]] {
        try JSONDecoder().decode([[Int32]].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func precision(_ arguments: [String]) throws -> WeightPrecision? {
        guard let index = arguments.firstIndex(of: "--dtype"), index + 1 < arguments.count else { return nil }
        guard let precision = WeightPrecision(rawValue: arguments[index + 1]) else {
            throw WeightsError(.invalidArgument, "unknown dtype '\(arguments[index + 1])'")
        }
        return precision
    }
}
