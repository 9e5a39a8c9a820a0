/// The keys and values a decoder has computed, per layer, for every position so far: a new
/// token attends to them instead of recomputing them, so generating n tokens costs O(n) layer
/// passes, not O(n²).
///
/// Storage grows by doubling up to the context length; one cache serves one sequence.
package struct KVCache: Sendable {
    package let layerCount: Int
    /// Floats per position per layer: key/value heads × head size.
    package let width: Int
    package let capacityLimit: Int
    /// Positions filled.
    package private(set) var count = 0
    private var keys: [[Float]]
    private var values: [[Float]]
    private var capacity = 0

    package init(layerCount: Int, width: Int, capacityLimit: Int) {
        self.layerCount = layerCount
        self.width = width
        self.capacityLimit = capacityLimit
        keys = Array(repeating: [], count: layerCount)
        values = Array(repeating: [], count: layerCount)
    }

    /// The forward pass's working memory, kept with the sequence so that a generated token
    /// allocates nothing.
    var scratch = DecoderScratch()

    /// Makes room for positions `count ..< count + tokens`.
    ///
    /// - Returns: `false` when they do not fit in the context.
    mutating func reserve(_ tokens: Int) -> Bool {
        guard tokens <= capacityLimit - count else { return false }
        if count + tokens > capacity {
            var grown = max(16, capacity)
            while grown < count + tokens { grown *= 2 }
            capacity = min(capacityLimit, grown)
            for layer in 0..<layerCount {
                keys[layer] += [Float](repeating: 0, count: (capacity - keys[layer].count / width) * width)
                values[layer] += [Float](repeating: 0, count: (capacity - values[layer].count / width) * width)
            }
        }
        return true
    }

    /// Stores the keys and values of positions `count ..< count + tokens` in `layer`: rows of
    /// `width` floats from `key` and `value`.
    mutating func store(layer: Int, tokens: Int, key: [Float], value: [Float]) {
        let start = count * width, length = tokens * width
        keys[layer].replaceSubrange(start..<start + length, with: key[0..<length])
        values[layer].replaceSubrange(start..<start + length, with: value[0..<length])
    }

    /// Marks positions `count ..< count + tokens` as filled in every layer.
    mutating func advance(by tokens: Int) { count += tokens }

    /// Calls `body` with the keys and values of `layer`: the capacity's positions, each `width`
    /// floats, those stored so far (the ones being computed included) first.
    func withLayer<R>(_ layer: Int, _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> R) -> R {
        // Sound: the buffers are the arrays' own, lent for `body` only; `layer` is index-checked.
        unsafe keys[layer].withUnsafeBufferPointer { k in unsafe values[layer].withUnsafeBufferPointer { v in unsafe body(k, v) } }
    }

    /// Forgets every position.
    package mutating func reset() { count = 0 }
}
