import Weights

/// The shape of a BERT-family encoder, as a Hugging Face `config.json` gives it.
///
/// ```swift
/// let config = try BertConfiguration(contentsOf: "all-MiniLM-L6-v2/config.json")
/// config.hiddenSize      // 384
/// config.headSize        // 32
/// ```
public struct BertConfiguration: Sendable, Hashable, Decodable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var intermediateSize: Int
    public var maximumPositions: Int
    public var tokenTypeCount: Int
    public var layerNormEpsilon: Float
    /// The feed-forward activation; only `gelu` (the exact erf form) is supported.
    public var hiddenActivation: String
    /// Only `absolute` position embeddings are supported.
    public var positionEmbeddingType: String

    /// The largest value any size in the configuration may take (2^24), whatever the weights
    /// say (Spec/limits.md); the sizes must also match the tensors' shapes.
    public static let maximumSize = 1 << 24

    /// The width of one attention head.
    public var headSize: Int { hiddenSize / headCount }

    public init(
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
    public init(contentsOf path: String) throws {
        self = try ModelFiles.decode(Self.self, from: path)
        do { try validate() } catch let error as WeightsError { throw error.in(file: path) }
    }

    private enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size"
        case hiddenSize = "hidden_size"
        case layerCount = "num_hidden_layers"
        case headCount = "num_attention_heads"
        case intermediateSize = "intermediate_size"
        case maximumPositions = "max_position_embeddings"
        case tokenTypeCount = "type_vocab_size"
        case layerNormEpsilon = "layer_norm_eps"
        case hiddenActivation = "hidden_act"
        case positionEmbeddingType = "position_embedding_type"
    }

    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: CodingKeys.self)
        vocabularySize = try keys.decode(Int.self, forKey: .vocabularySize)
        hiddenSize = try keys.decode(Int.self, forKey: .hiddenSize)
        layerCount = try keys.decode(Int.self, forKey: .layerCount)
        headCount = try keys.decode(Int.self, forKey: .headCount)
        intermediateSize = try keys.decode(Int.self, forKey: .intermediateSize)
        maximumPositions = try keys.decode(Int.self, forKey: .maximumPositions)
        tokenTypeCount = try keys.decodeIfPresent(Int.self, forKey: .tokenTypeCount) ?? 2
        layerNormEpsilon = try keys.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? 1e-12
        hiddenActivation = try keys.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? "gelu"
        positionEmbeddingType = try keys.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
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
