import WeightsCore

/// A sentence-embedding model on token ids: the encoder, then the pooling and normalization
/// that the model directory's `modules.json` lists (sentence-transformers' layout).
///
/// ```swift
/// let model = try EmbeddingModel(modelDirectory: ModelDirectory.default)
/// let vectors = try model.embed(tokenIDs: [[101, 7592, 2088, 102]])   // one 384-float unit vector
/// ```
public final class EmbeddingModel: Sendable {
    package let encoder: BertEncoder
    public let pooling: Pooling
    /// Whether vectors are scaled to unit length (a `Normalize` module follows the pooling).
    public let normalizes: Bool
    /// The most tokens a sequence may have, `[CLS]` and `[SEP]` included
    /// (`max_seq_length` of `sentence_bert_config.json`).
    public let maximumLength: Int
    /// How many cores a call uses.
    public let threads: Int

    /// The length of the vectors.
    public var dimension: Int { encoder.configuration.hiddenSize }

    /// Loads the model in `directory`.
    ///
    /// Without `modules.json` (a plain BERT checkpoint), pools by the mean and does not
    /// normalize, as sentence-transformers does for such a model.
    ///
    /// - Parameters:
    ///   - directory: The sentence-transformers model directory.
    ///   - precision: the format to keep weight matrices in (`nil`: as stored).
    ///   - compute: the arithmetic of the linear layers; `.int8` quantizes float weights to
    ///     INT8 and runs integer products (Spec/int8-compute.md); `precision` must then be
    ///     `nil` or `.int8`.
    ///   - threads: cores to use; the default is every online core.
    ///   - formats: weight formats beyond the core's, for `Checkpoint/open(_:formats:mapping:)`:
    ///     `Checkpoint.allFormats` (module `Weights`) reads a `model.wzst` container in place of
    ///     `model.safetensors`.
    /// - Throws: `WeightsError` naming the file at fault: a missing or malformed
    ///   configuration, a module other than Transformer, Pooling and Normalize, a missing tensor.
    public convenience init(modelDirectory directory: String, precision: WeightPrecision? = nil,
                            compute: ComputePrecision = .f32, threads: Int? = nil,
                            formats: [any CheckpointFormat.Type] = []) throws {
        try self.init(ModelDirectory(path: directory), precision: precision, compute: compute, threads: threads,
                      formats: formats)
    }

    /// Loads the model from `directory`'s modules, encoder configuration and weights, and
    /// pooling configuration.
    ///
    /// - Throws: as ``init(modelDirectory:precision:threads:)``; `invalidArgument` naming
    ///   `sentence_bert_config.json` when its `max_seq_length` is below 1 or above 2^20.
    init(_ directory: ModelDirectory, precision: WeightPrecision? = nil, compute: ComputePrecision = .f32,
         threads: Int? = nil, formats: [any CheckpointFormat.Type] = []) throws {
        let modules = try directory.modules()
        encoder = try BertEncoder(configuration: directory.encoderConfiguration(modules),
                                  weights: Checkpoint.open(modules.encoderPath, formats: formats), precision: precision,
                                  compute: compute)
        pooling = try directory.pooling(modules)
        normalizes = modules.normalizes
        let positions = encoder.configuration.maximumPositions
        if let limit = directory.maximumSequenceLength {
            guard (1...1_048_576).contains(limit) else {
                throw WeightsError(.invalidArgument, "max_seq_length \(limit) is not a usable length",
                                   file: directory.sentenceConfigurationPath)
            }
            maximumLength = min(limit, positions)
        } else {
            maximumLength = positions
        }
        self.threads = max(1, threads ?? Processor.availableCores)
    }

    /// One vector per sequence, in order.
    ///
    /// Sequences run `batchSize` at a time, each batch shared out over ``threads`` cores.
    /// Calls from several threads at once are safe; they share OpenBLAS's process-wide
    /// thread count, so overlapping calls may oversubscribe the cores, never give wrong
    /// results.
    ///
    /// - Throws: `invalidArgument` for an empty sequence, one longer than ``maximumLength``,
    ///   or a token id outside the vocabulary.
    /// - Complexity: O(tokens × parameters + Σ length² × hidden).
    public func embed(tokenIDs sequences: [[Int32]], batchSize: Int = 32) throws -> [[Float]] {
        if let index = sequences.firstIndex(where: { $0.count > maximumLength }) {
            throw WeightsError(.invalidArgument,
                "sequence \(index) has \(sequences[index].count) tokens; the model takes at most \(maximumLength)")
        }
        let width = dimension
        let result = ResultSlots<[Float]>(count: sequences.count, initial: [])
        for batchStart in stride(from: 0, to: sequences.count, by: max(1, batchSize)) {
            let batch = Array(sequences[batchStart..<min(batchStart + max(1, batchSize), sequences.count)])
            // Sound: `hidden` holds the group's tokenCount × width floats while the closure runs;
            // sequence `position` is `lengths[position]` ≥ 1 rows from `starts[position]`,
            // inside them, and `vector` holds the `width` floats pooling writes.
            unsafe try encoder.run(batch, threads: threads) { [pooling, normalizes] indices, packed, hidden in
                for (position, index) in indices.enumerated() {
                    var vector = [Float](repeating: 0, count: width)
                    unsafe vector.withUnsafeMutableBufferPointer { vector in
                        unsafe pooling.apply(hidden + packed.starts[position] * width, length: packed.lengths[position],
                                      width: width, into: vector.baseAddress!)
                        if normalizes { unsafe Operations.l2Normalize(vector) }
                    }
                    result[batchStart + index] = vector
                }
            }
        }
        return result.array
    }
}
