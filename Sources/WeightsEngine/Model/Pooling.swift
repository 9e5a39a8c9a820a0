import WeightsCore

/// How token states become one sentence vector: sentence-transformers' `Pooling` module.
///
/// The model directory's Pooling module (`1_Pooling/config.json`) chooses it:
///
/// ```swift
/// try EmbeddingModel(modelDirectory: "all-MiniLM-L6-v2").pooling    // .mean
/// ```
public enum Pooling: String, Sendable, Hashable, CaseIterable {
    /// The average of the tokens' states (the padding excluded).
    case mean
    /// The first token's state (`[CLS]`).
    case cls
    /// The element-wise maximum over the tokens.
    case max
    /// The sum of the tokens' states divided by √length.
    case meanSquareRootLength

    /// The mode a Pooling module's `config.json` asks for.
    ///
    /// - Throws: `unsupportedFormat` naming the file when it asks for no mode, several at
    ///   once, or one not listed here; `invalidArgument` when a flag is not true or false.
    init(_ config: JSONField) throws {
        let config = try config.asObject()
        let modes: [(String, Pooling?)] = [
            ("pooling_mode_mean_tokens", .mean), ("pooling_mode_cls_token", .cls),
            ("pooling_mode_max_tokens", .max), ("pooling_mode_mean_sqrt_len_tokens", .meanSquareRootLength),
            ("pooling_mode_weightedmean_tokens", nil), ("pooling_mode_lasttoken", nil),
        ]
        let chosen = try modes.filter { try config[$0.0].bool() == true }
        guard chosen.count == 1, let mode = chosen[0].1 else {
            let names = chosen.map(\.0).joined(separator: ", ")
            throw WeightsError(.unsupportedFormat,
                chosen.isEmpty ? "no pooling mode is set" : "pooling \(names) is not supported (one of mean, cls, max, mean_sqrt_len)",
                file: config.file)
        }
        if try config["include_prompt"].bool() == false {
            throw WeightsError(.unsupportedFormat, "include_prompt false is not supported", file: config.file)
        }
        self = mode
    }

    /// Pools `length` rows of `width` floats from `states` into `output` (`width` floats).
    ///
    /// - Complexity: O(length × width).
    func apply(_ states: UnsafePointer<Float>, length: Int, width: Int, into output: UnsafeMutablePointer<Float>) {
        // Sound: the caller lends `length` ≥ 1 rows of `width` floats (the encoder refuses
        // empty sequences) and `width` floats of output; every index is row × width + j with
        // row < max(length, 1) and j < width.
        switch self {
        case .cls:
            unsafe output.update(from: states, count: width)
        case .max:
            unsafe output.update(from: states, count: width)
            for row in 1..<Swift.max(length, 1) {
                for j in 0..<width { unsafe output[j] = unsafe Swift.max(output[j], states[row * width + j]) }
            }
        case .mean, .meanSquareRootLength:
            unsafe output.update(repeating: 0, count: width)
            for row in 0..<length {
                for j in 0..<width { unsafe output[j] += states[row * width + j] }
            }
            let divisor = self == .mean ? Float(length) : Float(length).squareRoot()
            for j in 0..<width { unsafe output[j] /= divisor }
        }
    }
}
