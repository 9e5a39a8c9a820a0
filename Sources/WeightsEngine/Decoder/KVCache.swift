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

    /// Makes room for position `count`.
    ///
    /// - Returns: `false` when the context is full.
    mutating func reserveNext() -> Bool {
        guard count < capacityLimit else { return false }
        if count == capacity {
            capacity = min(capacityLimit, max(16, capacity * 2))
            for layer in 0..<layerCount {
                keys[layer] += [Float](repeating: 0, count: (capacity - keys[layer].count / width) * width)
                values[layer] += [Float](repeating: 0, count: (capacity - values[layer].count / width) * width)
            }
        }
        return true
    }

    /// Stores the key and value of position `count` in `layer`.
    mutating func store(layer: Int, key: [Float], value: [Float]) {
        let start = count * width
        keys[layer].replaceSubrange(start..<start + width, with: key)
        values[layer].replaceSubrange(start..<start + width, with: value)
    }

    /// Marks position `count` as filled in every layer.
    mutating func advance() { count += 1 }

    /// Calls `body` with the keys and values of `layer`, `count + 1` positions (the one being
    /// computed included), each `width` floats.
    func withLayer<R>(_ layer: Int, _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> R) -> R {
        unsafe keys[layer].withUnsafeBufferPointer { k in unsafe values[layer].withUnsafeBufferPointer { v in unsafe body(k, v) } }
    }

    /// Forgets every position.
    package mutating func reset() { count = 0 }
}
