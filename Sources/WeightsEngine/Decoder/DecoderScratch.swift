/// The buffers one forward pass works in, for a block of up to `tokens` tokens: kept in the
/// sequence's ``KVCache`` and grown when a larger block comes, never shrunk.
struct DecoderScratch: Sendable {
    /// Tokens the buffers are sized for.
    private(set) var tokens = 0
    /// The per-token widths the buffers are sized for: a cache may meet another decoder's
    /// configuration, whose buffers must not be taken for this one's.
    private var widths = Widths()

    /// The floats per token of each buffer that grows with the block.
    private struct Widths: Sendable, Equatable {
        var hidden = 0, query = 0, keyValue = 0, feedForward = 0, rotaryPairs = 0, ropeBases = 0
    }
    /// The residual stream, tokens × d.
    var x: [Float] = []
    /// The normalized input of the attention or feed-forward products, tokens × d.
    var normalized = ActivationRows()
    var query: [Float] = []
    var key: [Float] = []
    var value: [Float] = []
    /// The attention heads' outputs side by side: the output projection's input.
    var attended = ActivationRows()
    /// The output of the attention or down projection, tokens × d.
    var projected: [Float] = []
    /// GELU(gate) ⊙ up: the down projection's input.
    var gate = ActivationRows()
    var up: [Float] = []
    /// The last token's normalized state: the output head's input.
    var last = ActivationRows()
    /// Attention scores: per worker, one row of `context` floats for each query head of a
    /// key/value group.
    var scores: [Float] = []
    /// cos and sin of each rotary pair at each token's position, per RoPE base:
    /// [base][token][pair].
    var cosines: [[Float]] = []
    var sines: [[Float]] = []

    mutating func prepare(tokens: Int, configuration c: DecoderConfiguration, workers: Int, context: Int, ropeBases: Int) {
        let q = c.headCount * c.headSize, kv = c.keyValueHeadCount * c.headSize
        normalized.resize(count: tokens, columns: c.hiddenSize)
        attended.resize(count: tokens, columns: q)
        gate.resize(count: tokens, columns: c.feedForwardSize)
        last.resize(count: 1, columns: c.hiddenSize)
        let half = c.headSize / 2
        let widths = Widths(hidden: c.hiddenSize, query: q, keyValue: kv, feedForward: c.feedForwardSize,
                            rotaryPairs: half, ropeBases: ropeBases)
        if tokens > self.tokens || widths != self.widths {
            self.tokens = tokens
            self.widths = widths
            x = [Float](repeating: 0, count: tokens * c.hiddenSize)
            query = [Float](repeating: 0, count: tokens * q)
            key = [Float](repeating: 0, count: tokens * kv)
            value = key
            projected = x
            up = [Float](repeating: 0, count: tokens * c.feedForwardSize)
            cosines = Array(repeating: [Float](repeating: 0, count: tokens * half), count: ropeBases)
            sines = cosines
        }
        let group = c.headCount / c.keyValueHeadCount
        if scores.count < workers * group * context { scores = [Float](repeating: 0, count: workers * group * context) }
    }
}
