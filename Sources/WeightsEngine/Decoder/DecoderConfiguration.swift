import WeightsCore

/// The shape of a decoder-only transformer, read from a GGUF file's metadata.
///
/// Two families are known: `gemma3` and `llama`. What the metadata does not say comes from
/// the architecture's definition (transformers' and llama.cpp's): for Gemma 3, every sixth
/// layer attends globally with the file's RoPE base, the others attend within the sliding
/// window with a base of 10,000; embeddings are scaled by √d; queries by 1/√(key length).
///
/// ```swift
/// let configuration = try DecoderConfiguration(gguf: GGUFFile(path: "gemma-3-270m-Q4_K_M.gguf"))
/// configuration.layerCount          // 18
/// configuration.isGlobal(layer: 5)  // true
/// ```
package struct DecoderConfiguration: Sendable, Hashable {
    package enum Architecture: String, Sendable, Hashable {
        case gemma3, llama
    }

    /// How RoPE pairs the dimensions of a head.
    package enum RotaryPairing: Sendable, Hashable {
        /// Dimension i with i + d/2 (GPT-NeoX; Gemma).
        case halves
        /// Dimension 2i with 2i + 1 (GGUF's llama, whose converter permutes Q and K to suit).
        case adjacent
    }

    package var architecture: Architecture
    package var hiddenSize: Int
    package var layerCount: Int
    package var headCount: Int
    package var keyValueHeadCount: Int
    package var headSize: Int
    package var feedForwardSize: Int
    package var vocabularySize: Int
    package var contextLength: Int
    package var rmsEpsilon: Float
    package var ropeBase: Double
    /// The RoPE base of the sliding-window layers (Gemma 3), or `nil` when all layers share one.
    package var ropeLocalBase: Double?
    package var rotaryPairing: RotaryPairing
    /// Local layers attend to at most this many positions, the current one included.
    package var slidingWindow: Int?
    /// Every `globalLayerInterval`-th layer attends to the whole context; `nil`: all do.
    package var globalLayerInterval: Int?
    /// Embeddings are multiplied by this before the first layer.
    package var embeddingScale: Float
    /// Attention scores are multiplied by this.
    package var queryScale: Float

    /// Whether `layer` (0-based) attends to the whole context.
    package func isGlobal(layer: Int) -> Bool {
        guard let interval = globalLayerInterval, slidingWindow != nil else { return true }
        return (layer + 1) % interval == 0
    }

    /// The RoPE base of `layer`.
    package func ropeBase(layer: Int) -> Double {
        isGlobal(layer: layer) ? ropeBase : (ropeLocalBase ?? ropeBase)
    }

    /// Reads the configuration of `file`.
    ///
    /// - Throws: `unsupportedFormat` for another architecture; `invalidData` naming the key
    ///   when a size is missing, not positive, out of the bounds below, or inconsistent
    ///   (heads that do not divide, a vocabulary that is not the embedding's).
    package init(gguf file: GGUFFile) throws {
        let metadata = file.metadata
        let name = metadata["general.architecture"]?.string ?? ""
        guard let architecture = Architecture(rawValue: name) else {
            throw WeightsError(.unsupportedFormat, "architecture '\(name)' is not one of gemma3, llama", file: file.path)
        }
        func size(_ key: String, default fallback: Int? = nil, limit: Int = 1 << 20) throws -> Int {
            let full = "\(name).\(key)"
            guard let value = metadata[full]?.int ?? fallback else {
                throw WeightsError(.invalidData, "'\(full)' is missing", file: file.path)
            }
            guard value > 0, value <= limit else {
                throw WeightsError(.invalidData, "'\(full)' is \(value), expected 1 to \(limit)", file: file.path)
            }
            return value
        }
        self.architecture = architecture
        hiddenSize = try size("embedding_length", limit: 1 << 16)
        layerCount = try size("block_count", limit: 1024)
        headCount = try size("attention.head_count", limit: 1024)
        keyValueHeadCount = try size("attention.head_count_kv", default: headCount, limit: 1024)
        headSize = try size("attention.key_length", default: hiddenSize / headCount, limit: 1 << 12)
        feedForwardSize = try size("feed_forward_length", limit: 1 << 18)
        contextLength = try size("context_length", default: 4096, limit: 1 << 24)
        rmsEpsilon = Float(metadata["\(name).attention.layer_norm_rms_epsilon"]?.double ?? 1e-6)
        ropeBase = metadata["\(name).rope.freq_base"]?.double ?? 10_000
        guard headCount % keyValueHeadCount == 0 else {
            throw WeightsError(.invalidData,
                "\(headCount) query heads do not share \(keyValueHeadCount) key/value heads evenly", file: file.path)
        }
        if let valueLength = metadata["\(name).attention.value_length"]?.int, valueLength != headSize {
            throw WeightsError(.invalidData,
                "value length \(valueLength) differs from key length \(headSize), which this engine does not run",
                file: file.path)
        }
        guard let embedding = file.tensorInfo(named: "token_embd.weight"), embedding.dimensions.count == 2,
              embedding.dimensions[0] == hiddenSize else {
            throw WeightsError(.invalidData, "'token_embd.weight' is missing or not [\(hiddenSize), vocabulary]",
                               file: file.path, tensor: "token_embd.weight")
        }
        vocabularySize = embedding.dimensions[1]
        switch architecture {
        case .gemma3:
            ropeLocalBase = 10_000
            rotaryPairing = .halves
            slidingWindow = try size("attention.sliding_window", default: 512, limit: 1 << 24)
            globalLayerInterval = 6
            embeddingScale = Float(Double(hiddenSize).squareRoot())
        case .llama:
            ropeLocalBase = nil
            rotaryPairing = .adjacent
            slidingWindow = nil
            globalLayerInterval = nil
            embeddingScale = 1
        }
        queryScale = Float(1 / Double(headSize).squareRoot())
    }
}
