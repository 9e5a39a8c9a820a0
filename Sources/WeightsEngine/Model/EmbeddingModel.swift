import WeightsCore

/// A sentence-embedding model on token ids: the encoder, then the pooling and normalization
/// that the model directory's `modules.json` lists (sentence-transformers' layout).
///
/// ```swift
/// let model = try EmbeddingModel(modelDirectory: ModelDirectory.default)
/// let vectors = try model.embed(tokenIDs: [[101, 7592, 2088, 102]])   // one 384-float unit vector
/// ```
public final class EmbeddingModel: Sendable {
    public let encoder: BertEncoder
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
    ///   - precision: the format to keep weight matrices in (`nil`: as stored).
    ///   - threads: cores to use; the default is every online core.
    /// - Throws: ``WeightsError`` naming the file at fault: a missing or malformed
    ///   configuration, a module other than Transformer, Pooling and Normalize, a missing tensor.
    public init(modelDirectory directory: String, precision: WeightPrecision? = nil, threads: Int? = nil) throws {
        let modules = try ModuleList(directory: directory)
        // Older sentence-transformers models keep the encoder in a subdirectory (0_Transformer).
        let encoderDirectory = modules.transformerPath.isEmpty ? directory : directory + "/" + modules.transformerPath
        encoder = try BertEncoder(modelDirectory: encoderDirectory, precision: precision)
        pooling = try modules.poolingPath.map { try Pooling(contentsOf: directory + "/" + $0 + "/config.json") } ?? .mean
        normalizes = modules.normalizes
        let limit = try ModuleList.maximumSequenceLength(directory: directory)
        maximumLength = min(limit ?? encoder.configuration.maximumPositions, encoder.configuration.maximumPositions)
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
            try encoder.run(batch, threads: threads) { [pooling, normalizes] indices, packed, hidden in
                for (position, index) in indices.enumerated() {
                    var vector = [Float](repeating: 0, count: width)
                    vector.withUnsafeMutableBufferPointer { vector in
                        pooling.apply(hidden + packed.starts[position] * width, length: packed.lengths[position],
                                      width: width, into: vector.baseAddress!)
                        if normalizes { Operations.l2Normalize(vector) }
                    }
                    result[batchStart + index] = vector
                }
            }
        }
        return result.array
    }
}

/// The modules of a sentence-transformers directory (`modules.json`).
struct ModuleList: Decodable {
    var transformerPath = ""
    var poolingPath: String?
    var normalizes = false

    private struct Module: Decodable {
        var type: String
        var path: String
    }

    init(from decoder: any Decoder) throws {
        self.init()
        for module in try [Module](from: decoder) {
            switch module.type.split(separator: ".").last {
            case "Transformer": transformerPath = module.path
            case "Pooling": poolingPath = module.path
            case "Normalize": normalizes = true
            default:
                throw WeightsError(.unsupportedFormat, "module '\(module.type)' is not supported (Transformer, Pooling, Normalize)")
            }
        }
    }

    private init() {}

    /// The modules listed in `directory/modules.json`; the default (mean pooling, no
    /// normalization) when there is no such file.
    init(directory: String) throws {
        let path = directory + "/modules.json"
        guard ModelFiles.exists(path) else {
            self.init()
            return
        }
        do {
            self = try ModelFiles.decode(Self.self, from: path)
        } catch let error as WeightsError {
            throw error.in(file: path)
        }
    }

    /// `max_seq_length` from `sentence_bert_config.json`, or `nil` when absent.
    static func maximumSequenceLength(directory: String) throws -> Int? {
        let path = directory + "/sentence_bert_config.json"
        guard ModelFiles.exists(path) else { return nil }
        guard case .number(let value)? = try ModelFiles.decode([String: JSONScalar].self, from: path)["max_seq_length"] else {
            return nil
        }
        guard value >= 2, value <= 1_048_576, value == value.rounded() else {
            throw WeightsError(.invalidArgument, "max_seq_length \(value) is not a usable length", file: path)
        }
        return Int(value)
    }
}
