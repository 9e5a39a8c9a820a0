import CWeightsSIMD
import WeightsCore
import WeightsPlatform

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
    /// Tokens a prompt is processed in at once: each weight row is read once per block.
    package let blockSize: Int
    private let pool: WorkerPool
    /// The inverse frequencies of each distinct RoPE base, and which one each layer uses.
    private let inverseFrequencies: [[Double]]
    private let ropeIndex: [Int]

    package init(gguf file: GGUFFile, precision: QuantizedMatrix.Precision = .exact, threads: Int? = nil,
                 blockSize: Int = 256) throws {
        let configuration = try DecoderConfiguration(gguf: file)
        self.configuration = configuration
        weights = try DecoderWeights(gguf: file, configuration: configuration)
        self.precision = precision
        self.threads = max(1, threads ?? ParallelChunks.availableCores)
        self.blockSize = max(1, blockSize)
        pool = WorkerPool(threads: self.threads)
        let bases = (0..<configuration.layerCount).map { configuration.ropeBase(layer: $0) }
        var distinct: [Double] = []
        for base in bases where !distinct.contains(base) { distinct.append(base) }
        ropeIndex = bases.map { distinct.firstIndex(of: $0)! }
        let half = configuration.headSize / 2
        inverseFrequencies = distinct.map { base in
            (0..<half).map { i in 1 / pow(base, Double(2 * i) / Double(configuration.headSize)) }
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
        var logits: [Float] = []
        try forward([token], cache: &cache, logits: &logits)
        return logits
    }

    /// Runs `tokens` at the cache's next positions, in blocks of ``blockSize`` (matrix times
    /// matrix, causal attention within the block), and writes the logits for the token after
    /// the last one into `logits` (resized to the vocabulary; no allocation when it already is).
    ///
    /// - Throws: `invalidArgument` for a token outside the vocabulary or a context too short;
    ///   nothing is run then.
    /// - Precondition: `cache` has this decoder's layer count and key/value width (one from
    ///   ``makeCache(capacity:)``): attention reads it with this decoder's sizes.
    package func forward(_ tokens: [Int], cache: inout KVCache, logits: inout [Float]) throws {
        let c = configuration
        precondition(cache.layerCount == c.layerCount && cache.width == c.keyValueHeadCount * c.headSize,
                     "forward: the cache was made for another decoder")
        guard !tokens.isEmpty else { throw WeightsError(.invalidArgument, "no tokens to run") }
        for token in tokens where !(0..<c.vocabularySize).contains(token) {
            throw WeightsError(.invalidArgument, "token \(token) is outside the \(c.vocabularySize)-token vocabulary")
        }
        guard cache.reserve(tokens.count) else {
            throw WeightsError(.invalidArgument, "the context of \(cache.capacityLimit) tokens is full")
        }
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + blockSize)
            try forwardBlock(tokens[start..<end], cache: &cache)
            start = end
        }
        // The output head, for the last token only.
        var scratch = cache.scratch
        cache.scratch = DecoderScratch()  // keep the buffers unique while they are written
        let d = c.hiddenSize
        let lastRow = (tokens.count - 1) % blockSize * d  // the last token's row in the last block
        // Sound: the last block had (tokens.count - 1) % blockSize + 1 tokens, for which
        // `prepare` sized `x` (so row `lastRow` lies in it), and `last` holds one row of d.
        unsafe scratch.x.withUnsafeBufferPointer { x in
            unsafe scratch.last.values.withUnsafeMutableBufferPointer { out in
                unsafe Self.rmsNorm(UnsafeBufferPointer(rebasing: x[lastRow..<lastRow + d]), weights.outputNorm,
                                    epsilon: c.rmsEpsilon, into: out)
            }
        }
        if logits.count != c.vocabularySize { logits = [Float](repeating: 0, count: c.vocabularySize) }
        weights.output.multiply(&scratch.last, into: &logits, precision: precision, pool: pool)
        cache.scratch = scratch
    }

    /// One block of tokens through every layer; their keys and values join the cache.
    private func forwardBlock(_ tokens: ArraySlice<Int>, cache: inout KVCache) throws {
        let c = configuration
        let n = tokens.count, d = c.hiddenSize
        let position = cache.count
        var s = cache.scratch
        cache.scratch = DecoderScratch()  // keep the buffers unique while they are written
        s.prepare(tokens: n, configuration: c, workers: threads, context: cache.capacityLimit,
                  ropeBases: inverseFrequencies.count)
        fillRotations(&s, position: position, tokens: n)

        for (t, token) in tokens.enumerated() {
            let row = try weights.embedding.row(token)
            for i in 0..<d { s.x[t * d + i] = row[i] * c.embeddingScale }
        }
        for (index, layer) in weights.layers.enumerated() {
            // Attention.
            Self.rmsNormRows(s.x, layer.attentionNorm, epsilon: c.rmsEpsilon, rows: n, into: &s.normalized)
            layer.query.multiply(&s.normalized, into: &s.query, precision: precision, pool: pool)
            layer.key.multiply(&s.normalized, into: &s.key, precision: precision, pool: pool)
            layer.value.multiply(&s.normalized, into: &s.value, precision: precision, pool: pool)
            if let norm = layer.queryNorm { Self.normalizeHeads(&s.query, norm, size: c.headSize, count: n * c.headCount, epsilon: c.rmsEpsilon) }
            if let norm = layer.keyNorm { Self.normalizeHeads(&s.key, norm, size: c.headSize, count: n * c.keyValueHeadCount, epsilon: c.rmsEpsilon) }
            rotate(&s.query, heads: c.headCount, tokens: n, cosines: s.cosines[ropeIndex[index]], sines: s.sines[ropeIndex[index]])
            rotate(&s.key, heads: c.keyValueHeadCount, tokens: n, cosines: s.cosines[ropeIndex[index]], sines: s.sines[ropeIndex[index]])
            cache.store(layer: index, tokens: n, key: s.key, value: s.value)
            attend(layer: index, position: position, tokens: n, cache: cache, scratch: &s)
            layer.output.multiply(&s.attended, into: &s.projected, precision: precision, pool: pool)
            if let norm = layer.postAttentionNorm { Self.normalizeHeads(&s.projected, norm, size: d, count: n, epsilon: c.rmsEpsilon) }
            for i in 0..<n * d { s.x[i] += s.projected[i] }

            // Feed-forward.
            Self.rmsNormRows(s.x, layer.feedForwardNorm, epsilon: c.rmsEpsilon, rows: n, into: &s.normalized)
            layer.gate.multiply(&s.normalized, into: &s.gate.values, precision: precision, pool: pool)
            layer.up.multiply(&s.normalized, into: &s.up, precision: precision, pool: pool)
            let width = n * c.feedForwardSize
            switch c.architecture {
            case .gemma3:
                // Sound: `prepare` sized `gate` and `up` for n × feedForwardSize = `width` floats.
                unsafe s.gate.values.withUnsafeMutableBufferPointer { gate in
                    unsafe s.up.withUnsafeBufferPointer { up in
                        unsafe weights_gelu_tanh_product(gate.baseAddress, up.baseAddress, width, Int32(WEIGHTS_KERNEL_BEST))
                    }
                }
            case .llama:
                for i in 0..<width { s.gate.values[i] = s.gate.values[i] / (1 + exp(-s.gate.values[i])) * s.up[i] }
            }
            layer.down.multiply(&s.gate, into: &s.projected, precision: precision, pool: pool)
            if let norm = layer.postFeedForwardNorm { Self.normalizeHeads(&s.projected, norm, size: d, count: n, epsilon: c.rmsEpsilon) }
            for i in 0..<n * d { s.x[i] += s.projected[i] }
        }
        cache.advance(by: n)
        cache.scratch = s
    }

    // MARK: - Steps

    /// out = x / √(mean(x²) + ε) · weight, the mean taken in Double.
    static func rmsNorm(_ x: UnsafeBufferPointer<Float>, _ weight: [Float], epsilon: Float,
                        into out: UnsafeMutableBufferPointer<Float>) {
        precondition(out.count >= x.count && weight.count >= x.count, "rmsNorm: buffers shorter than the row")
        // Sound: every index is below x.count, and `out` is at least as long (checked above).
        var sum = 0.0
        for i in 0..<x.count { let value = Double(unsafe x[i]); sum += value * value }
        let scale = Float(1 / (sum / Double(x.count) + Double(epsilon)).squareRoot())
        for i in 0..<x.count { unsafe out[i] = unsafe x[i] * scale * weight[i] }
    }

    /// RMSNorm of each of the `rows` rows of `x` into `out`.
    static func rmsNormRows(_ x: [Float], _ weight: [Float], epsilon: Float, rows: Int, into out: inout ActivationRows) {
        let width = weight.count
        precondition(x.count >= rows * width && out.values.count >= rows * width, "rmsNormRows: too few values")
        // Sound: row `row` < rows spans row × width ..< (row + 1) × width, inside both (checked above).
        unsafe x.withUnsafeBufferPointer { x in
            unsafe out.values.withUnsafeMutableBufferPointer { out in
                for row in 0..<rows {
                    let range = row * width..<(row + 1) * width
                    unsafe rmsNorm(UnsafeBufferPointer(rebasing: x[range]), weight, epsilon: epsilon,
                                   into: UnsafeMutableBufferPointer(rebasing: out[range]))
                }
            }
        }
    }

    /// RMSNorm of each of the first `count` `size`-float pieces of `x` in place.
    static func normalizeHeads(_ x: inout [Float], _ weight: [Float], size: Int, count: Int, epsilon: Float) {
        precondition(x.count >= count * size, "normalizeHeads: too few values")
        // Sound: piece `head` < count spans head × size ..< (head + 1) × size, inside `x` (checked above).
        unsafe x.withUnsafeMutableBufferPointer { x in
            for head in 0..<count {
                let piece = unsafe UnsafeMutableBufferPointer(rebasing: x[head * size..<(head + 1) * size])
                unsafe rmsNorm(UnsafeBufferPointer(piece), weight, epsilon: epsilon, into: piece)
            }
        }
    }

    /// cos and sin of every rotary pair at each token's position, per RoPE base (angles in Double).
    private func fillRotations(_ s: inout DecoderScratch, position: Int, tokens: Int) {
        let half = configuration.headSize / 2
        for (base, frequencies) in inverseFrequencies.enumerated() {
            for t in 0..<tokens {
                for i in 0..<half {
                    let angle = Double(position + t) * frequencies[i]
                    s.cosines[base][t * half + i] = Float(cos(angle))
                    s.sines[base][t * half + i] = Float(sin(angle))
                }
            }
        }
    }

    /// Rotates each head of each token's row of `x` by its position's angles (RoPE).
    private func rotate(_ x: inout [Float], heads: Int, tokens: Int, cosines: [Float], sines: [Float]) {
        let size = configuration.headSize, half = size / 2
        let halves = configuration.rotaryPairing == .halves
        for t in 0..<tokens {
            for head in 0..<heads {
                let start = (t * heads + head) * size
                for i in 0..<half {
                    let (cosine, sine) = (cosines[t * half + i], sines[t * half + i])
                    let (a, b) = halves ? (start + i, start + i + half) : (start + 2 * i, start + 2 * i + 1)
                    let (first, second) = (x[a], x[b])
                    x[a] = first * cosine - second * sine
                    x[b] = second * cosine + first * sine
                }
            }
        }
    }

    /// Each query head of each token attends to the cached keys of its key/value head, up to
    /// its own position: softmax of the scaled scores over the positions in reach, then the
    /// weighted sum of the values. The jobs, shared out over the threads, are (token, head)
    /// pairs for one token, and for a prompt block (token, key/value head) pairs, whose query
    /// heads then read each cached row once together (the same bits as one head at a time).
    private func attend(layer: Int, position: Int, tokens: Int, cache: KVCache, scratch s: inout DecoderScratch) {
        let c = configuration
        let size = c.headSize, width = c.keyValueHeadCount * size
        let group = c.headCount / c.keyValueHeadCount
        let window = c.isGlobal(layer: layer) ? Int.max : (c.slidingWindow ?? Int.max)
        let headsPerJob = tokens > 1 ? group : 1
        let jobsPerToken = c.headCount / headsPerJob
        let pairs = tokens * jobsPerToken
        let parts = min(threads, pairs)
        let context = cache.capacityLimit
        let kernel = Int32(WEIGHTS_KERNEL_BEST)
        let query = s.query
        // Sound: `forward` checked that the cache has this decoder's width, and reserved the
        // positions: current = position + t < capacity, so keys and values (capacity × width
        // floats) hold rows first...current, and kvOffset + size ≤ width (head / group <
        // keyValueHeadCount; a job's heads, head...head + headsPerJob - 1, share one key/value
        // head since headsPerJob is 1 or group). Part `part` < parts ≤ threads has its own
        // group × `context` scores (`prepare` sized them threads × group × context, and
        // current - first + 1 ≤ context); `query` and `attended` hold tokens × headCount × size
        // floats. The parts write disjoint heads.
        unsafe cache.withLayer(layer) { keys, values in
            unsafe s.scores.withUnsafeMutableBufferPointer { scoreBuffer in
                unsafe s.attended.values.withUnsafeMutableBufferPointer { outBuffer in
                    unsafe query.withUnsafeBufferPointer { queryBuffer in
                        let shared = unsafe UncheckedSendable((keys, values, scoreBuffer, outBuffer, queryBuffer))
                        let work = { (part: Int) in
                            let (keys, values, scoreBuffer, outBuffer, queryBuffer) = unsafe shared.value
                            let scores = unsafe scoreBuffer.baseAddress! + part * group * context
                            for pair in Parallel.slice(pairs, into: parts, part: part) {
                                let (t, job) = pair.quotientAndRemainder(dividingBy: jobsPerToken)
                                let head = job * headsPerJob
                                let current = position + t
                                let first = window == Int.max ? 0 : max(0, current - window + 1)
                                let kvOffset = (head / group) * size
                                let q = unsafe queryBuffer.baseAddress! + (t * c.headCount + head) * size
                                let out = unsafe outBuffer.baseAddress! + (t * c.headCount + head) * size
                                unsafe weights_attend_heads(q, headsPerJob, keys.baseAddress! + first * width + kvOffset,
                                                            values.baseAddress! + first * width + kvOffset, width,
                                                            current - first + 1, size, c.queryScale, scores, out, kernel)
                            }
                        }
                        if parts > 1 { pool.run(jobs: parts, work) } else { work(0) }
                    }
                }
            }
        }
    }
}
