import WeightsCore

/// The shape of a BERT-family encoder, as a Hugging Face `config.json` gives it.
///
/// ```swift
/// let config = try BertConfiguration(contentsOf: "all-MiniLM-L6-v2/config.json")
/// config.hiddenSize      // 384
/// config.headSize        // 32
/// ```
package struct BertConfiguration: Sendable, Hashable {
    package var vocabularySize: Int
    package var hiddenSize: Int
    package var layerCount: Int
    package var headCount: Int
    package var intermediateSize: Int
    package var maximumPositions: Int
    package var tokenTypeCount: Int
    package var layerNormEpsilon: Float
    /// The feed-forward activation; only `gelu` (the exact erf form) is supported.
    package var hiddenActivation: String
    /// Only `absolute` position embeddings are supported.
    package var positionEmbeddingType: String

    /// The largest value any size in the configuration may take (2^24), whatever the weights
    /// say (Spec/limits.md); the sizes must also match the tensors' shapes.
    public static let maximumSize = 1 << 24

    /// The width of one attention head.
    package var headSize: Int { hiddenSize / headCount }

    package init(
        vocabularySize: Int, hiddenSize: Int, layerCount: Int, headCount: Int, intermediateSize: Int,
        maximumPositions: Int, tokenTypeCount: Int = 2, layerNormEpsilon: Float = 1e-12
    ) throws {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.intermediateSize = intermediateSize
        self.maximumPositions = maximumPositions
        self.tokenTypeCount = tokenTypeCount
        self.layerNormEpsilon = layerNormEpsilon
        self.hiddenActivation = "gelu"
        self.positionEmbeddingType = "absolute"
        try validate()
    }

    /// Reads and checks `config.json` at `path`.
    ///
    /// - Throws: `invalidArgument` naming the file when a key is missing or mistyped, or a
    ///   size is not positive; `unsupportedFormat` for an activation other than `gelu` or
    ///   position embeddings other than `absolute`.
    package init(contentsOf path: String) throws {
        try self.init(JSONField(contentsOf: path))
        do { try validate() } catch let error as WeightsError { throw error.in(file: path) }
    }

    /// Reads the keys of a `config.json`, unchecked; `contentsOf` checks them.
    init(_ config: JSONField) throws {
        let config = try config.asObject()
        vocabularySize = try config["vocab_size"].requiredInt()
        hiddenSize = try config["hidden_size"].requiredInt()
        layerCount = try config["num_hidden_layers"].requiredInt()
        headCount = try config["num_attention_heads"].requiredInt()
        intermediateSize = try config["intermediate_size"].requiredInt()
        maximumPositions = try config["max_position_embeddings"].requiredInt()
        tokenTypeCount = try config["type_vocab_size"].int() ?? 2
        layerNormEpsilon = try config["layer_norm_eps"].float() ?? 1e-12
        hiddenActivation = try config["hidden_act"].string() ?? "gelu"
        positionEmbeddingType = try config["position_embedding_type"].string() ?? "absolute"
    }

    func validate() throws {
        let sizes = [("vocab_size", vocabularySize), ("hidden_size", hiddenSize), ("num_hidden_layers", layerCount),
                     ("num_attention_heads", headCount), ("intermediate_size", intermediateSize),
                     ("max_position_embeddings", maximumPositions), ("type_vocab_size", tokenTypeCount)]
        for (key, value) in sizes where value <= 0 {
            throw WeightsError(.invalidArgument, "\(key) is \(value), expected a positive size")
        }
        for (key, value) in sizes where value > Self.maximumSize {
            throw WeightsError(.limitExceeded, "\(key) is \(value), over the limit of \(Self.maximumSize)")
        }
        guard hiddenSize % headCount == 0 else {
            throw WeightsError(.invalidArgument,
                "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(headCount)")
        }
        guard layerNormEpsilon > 0, layerNormEpsilon.isFinite else {
            throw WeightsError(.invalidArgument, "layer_norm_eps is \(layerNormEpsilon), expected a positive number")
        }
        guard hiddenActivation == "gelu" else {
            throw WeightsError(.unsupportedFormat,
                "hidden_act '\(hiddenActivation)' is not supported (only 'gelu', the exact erf form)")
        }
        guard positionEmbeddingType == "absolute" else {
            throw WeightsError(.unsupportedFormat,
                "position_embedding_type '\(positionEmbeddingType)' is not supported (only 'absolute')")
        }
    }
}
