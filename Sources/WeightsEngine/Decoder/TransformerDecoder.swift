import Foundation
import WeightsCore

/// A decoder-only transformer run from a mapped GGUF file: one token in, the next token's
/// logits out, its keys and values kept in a ``KVCache``.
///
/// The forward pass, top to bottom (Gemma 3; llama leaves out the steps marked *):
///
///     x = embedding[token] · √d*
///     for each layer:
///         h = rmsnorm(x) · attn_norm
///         q, k, v = Wq h, Wk h, Wv h
///         q, k = rmsnorm per head · q_norm, k_norm*
///         q, k = rope(q, k, position)          base 10⁶ on global layers, 10⁴ on local ones*
///         a = softmax(q kᵀ / √head) v          over the window on local layers*
///         x = x + rmsnorm(Wo a) · post_attention_norm*
///         h = rmsnorm(x) · ffn_norm
///         f = Wdown (gelu_tanh(Wgate h) ⊙ Wup h)   (llama: silu)
///         x = x + rmsnorm(f) · post_ffw_norm*
///     logits = Woutput (rmsnorm(x) · output_norm)
///
/// ```swift
/// let decoder = try TransformerDecoder(gguf: GGUFFile(path: "gemma-3-270m-Q4_K_M.gguf"))
/// var cache = decoder.makeCache()
/// var logits: [Float] = []
/// for (position, token) in prompt.enumerated() { logits = try decoder.forward(token, cache: &cache) }
/// ```
package final class TransformerDecoder: Sendable {
    package let configuration: DecoderConfiguration
    package let weights: DecoderWeights
    package let precision: QuantizedMatrix.Precision
    package let threads: Int
    /// cos and sin of every (position, frequency) pair are computed per call; these are the
    /// inverse frequencies of each layer kind.
    private let inverseFrequencies: [[Double]]

    package init(gguf file: GGUFFile, precision: QuantizedMatrix.Precision = .exact, threads: Int? = nil) throws {
        let configuration = try DecoderConfiguration(gguf: file)
        self.configuration = configuration
        weights = try DecoderWeights(gguf: file, configuration: configuration)
        self.precision = precision
        self.threads = threads ?? ParallelChunks.availableCores
        let half = configuration.headSize / 2
        inverseFrequencies = (0..<configuration.layerCount).map { layer in
            let base = configuration.ropeBase(layer: layer)
            return (0..<half).map { i in 1 / pow(base, Double(2 * i) / Double(configuration.headSize)) }
        }
    }

    /// A cache for one sequence of up to `capacity` tokens (the context length by default).
    package func makeCache(capacity: Int? = nil) -> KVCache {
        KVCache(layerCount: configuration.layerCount,
                width: configuration.keyValueHeadCount * configuration.headSize,
                capacityLimit: min(capacity ?? configuration.contextLength, configuration.contextLength))
    }

    /// Runs `token` at the cache's next position and returns the logits for the token after it.
    ///
    /// - Throws: `invalidArgument` for a token outside the vocabulary or a full context.
    package func forward(_ token: Int, cache: inout KVCache) throws -> [Float] {
        let c = configuration
        guard (0..<c.vocabularySize).contains(token) else {
            throw WeightsError(.invalidArgument, "token \(token) is outside the \(c.vocabularySize)-token vocabulary")
        }
        guard cache.reserveNext() else {
            throw WeightsError(.invalidArgument, "the context of \(cache.capacityLimit) tokens is full")
        }
        let position = cache.count
        var x = try weights.embedding.row(token)
        if c.embeddingScale != 1 { for i in x.indices { x[i] *= c.embeddingScale } }

        var q = [Float](repeating: 0, count: c.headCount * c.headSize)
        var k = [Float](repeating: 0, count: c.keyValueHeadCount * c.headSize)
        var v = k
        var attended = q
        var projected = x
        var gate = [Float](repeating: 0, count: c.feedForwardSize)
        var up = gate
        for (index, layer) in weights.layers.enumerated() {
            // Attention.
            var h = Self.rmsNorm(x, layer.attentionNorm, epsilon: c.rmsEpsilon)
            layer.query.multiply(h, into: &q, precision: precision, threads: threads)
            layer.key.multiply(h, into: &k, precision: precision, threads: threads)
            layer.value.multiply(h, into: &v, precision: precision, threads: threads)
            if let norm = layer.queryNorm { Self.normalizeHeads(&q, norm, size: c.headSize, epsilon: c.rmsEpsilon) }
            if let norm = layer.keyNorm { Self.normalizeHeads(&k, norm, size: c.headSize, epsilon: c.rmsEpsilon) }
            rotate(&q, position: position, layer: index)
            rotate(&k, position: position, layer: index)
            cache.store(layer: index, key: k, value: v)
            attend(q, layer: index, position: position, cache: cache, into: &attended)
            layer.output.multiply(attended, into: &projected, precision: precision, threads: threads)
            if let norm = layer.postAttentionNorm { projected = Self.rmsNorm(projected, norm, epsilon: c.rmsEpsilon) }
            for i in x.indices { x[i] += projected[i] }

            // Feed-forward.
            h = Self.rmsNorm(x, layer.feedForwardNorm, epsilon: c.rmsEpsilon)
            layer.gate.multiply(h, into: &gate, precision: precision, threads: threads)
            layer.up.multiply(h, into: &up, precision: precision, threads: threads)
            switch c.architecture {
            case .gemma3: for i in gate.indices { gate[i] = Self.geluTanh(gate[i]) * up[i] }
            case .llama: for i in gate.indices { gate[i] = gate[i] / (1 + exp(-gate[i])) * up[i] }
            }
            layer.down.multiply(gate, into: &projected, precision: precision, threads: threads)
            if let norm = layer.postFeedForwardNorm { projected = Self.rmsNorm(projected, norm, epsilon: c.rmsEpsilon) }
            for i in x.indices { x[i] += projected[i] }
        }
        cache.advance()
        let normalized = Self.rmsNorm(x, weights.outputNorm, epsilon: c.rmsEpsilon)
        var logits = [Float](repeating: 0, count: c.vocabularySize)
        weights.output.multiply(normalized, into: &logits, precision: precision, threads: threads)
        return logits
    }

    // MARK: - Steps

    /// x / √(mean(x²) + ε) · weight, the mean taken in Double.
    static func rmsNorm(_ x: [Float], _ weight: [Float], epsilon: Float) -> [Float] {
        var sum = 0.0
        for value in x { sum += Double(value) * Double(value) }
        let scale = Float(1 / (sum / Double(x.count) + Double(epsilon)).squareRoot())
        return zip(x, weight).map { $0 * scale * $1 }
    }

    /// RMSNorm of each `size`-float head of `x` in place.
    static func normalizeHeads(_ x: inout [Float], _ weight: [Float], size: Int, epsilon: Float) {
        for start in stride(from: 0, to: x.count, by: size) {
            let head = rmsNorm(Array(x[start..<start + size]), weight, epsilon: epsilon)
            x.replaceSubrange(start..<start + size, with: head)
        }
    }

    /// Rotates each head of `x` by its position's angles (RoPE).
    private func rotate(_ x: inout [Float], position: Int, layer: Int) {
        let size = configuration.headSize, half = size / 2
        let frequencies = inverseFrequencies[layer]
        for start in stride(from: 0, to: x.count, by: size) {
            for i in 0..<half {
                let angle = Double(position) * frequencies[i]
                let (cosine, sine) = (Float(cos(angle)), Float(sin(angle)))
                let (a, b) = configuration.rotaryPairing == .halves
                    ? (start + i, start + i + half) : (start + 2 * i, start + 2 * i + 1)
                let (first, second) = (x[a], x[b])
                x[a] = first * cosine - second * sine
                x[b] = second * cosine + first * sine
            }
        }
    }

    /// Each query head attends to the cached keys of its key/value head: softmax of the
    /// scaled scores over the positions in reach, then the weighted sum of the values.
    private func attend(_ q: [Float], layer: Int, position: Int, cache: KVCache, into out: inout [Float]) {
        let c = configuration
        let size = c.headSize, width = c.keyValueHeadCount * size
        let group = c.headCount / c.keyValueHeadCount
        let first = c.isGlobal(layer: layer) ? 0 : max(0, position - (c.slidingWindow ?? position + 1) + 1)
        var scores = [Float](repeating: 0, count: position - first + 1)
        unsafe cache.withLayer(layer) { keys, values in
            for head in 0..<c.headCount {
                let kvOffset = (head / group) * size
                let query = head * size
                var largest = -Float.infinity
                for p in first...position {
                    var dot: Float = 0
                    let key = p * width + kvOffset
                    for i in 0..<size { unsafe dot += q[query + i] * keys[key + i] }
                    scores[p - first] = dot * c.queryScale
                    largest = max(largest, scores[p - first])
                }
                var total: Float = 0
                for i in scores.indices {
                    scores[i] = exp(scores[i] - largest)
                    total += scores[i]
                }
                for i in 0..<size { out[query + i] = 0 }
                for p in first...position {
                    let weight = scores[p - first] / total
                    let value = p * width + kvOffset
                    for i in 0..<size { unsafe out[query + i] += weight * values[value + i] }
                }
            }
        }
    }

    /// GELU, tanh form: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    static func geluTanh(_ x: Float) -> Float {
        0.5 * x * (1 + tanh(0.797_884_560_802_865_4 * (x + 0.044715 * x * x * x)))
    }
}
