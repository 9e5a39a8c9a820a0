import WeightsPlatform

/// Picks the next token from logits: greedy at temperature 0, otherwise a draw from the
/// softmax of logits / temperature, cut to the `topK` most likely tokens and then to the
/// smallest set whose probability reaches `topP`.
///
/// The draws come from a seeded generator (SplitMix64), so a seed reproduces a continuation.
///
/// ```swift
/// var sampler = Sampler(temperature: 0.8, topK: 40, topP: 0.95, seed: 7)
/// let next = sampler.sample(logits)
/// ```
package struct Sampler: Sendable {
    package var temperature: Float
    package var topK: Int
    package var topP: Float
    private var state: UInt64

    package init(temperature: Float = 0, topK: Int = 40, topP: Float = 0.95, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.state = seed
    }

    /// The index of the largest logit; the lowest index among equals.
    package static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for index in logits.indices where logits[index] > logits[best] { best = index }
        return best
    }

    package mutating func sample(_ logits: [Float]) -> Int {
        guard temperature > 0, !logits.isEmpty else { return Self.argmax(logits) }
        // The candidates: the topK largest logits (all when topK ≤ 0), most likely first.
        var order = Array(logits.indices)
        let keep = topK > 0 ? min(topK, logits.count) : logits.count
        if keep < logits.count {
            order = Self.largest(keep, of: logits)
        } else {
            order.sort { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        }
        let top = logits[order[0]]
        var weights = order.map { Double(exp((logits[$0] - top) / temperature)) }
        let total = weights.reduce(0, +)
        // Nucleus: the shortest prefix whose probability reaches topP.
        var cumulative = 0.0
        var cut = weights.count
        for index in weights.indices {
            cumulative += weights[index] / total
            if cumulative >= Double(topP) { cut = index + 1; break }
        }
        weights = Array(weights[0..<cut])
        let draw = nextUnit() * weights.reduce(0, +)
        var running = 0.0
        for index in weights.indices {
            running += weights[index]
            if draw < running { return order[index] }
        }
        return order[cut - 1]
    }

    /// The indices of the `count` largest values, largest first (ties: lower index first).
    private static func largest(_ count: Int, of values: [Float]) -> [Int] {
        var heap: [Int] = []  // a min-heap on value of the best `count` so far
        heap.reserveCapacity(count + 1)
        func less(_ a: Int, _ b: Int) -> Bool { values[a] != values[b] ? values[a] < values[b] : a > b }
        for index in values.indices {
            if heap.count < count {
                heap.append(index)
                var child = heap.count - 1
                while child > 0, less(heap[child], heap[(child - 1) / 2]) {
                    heap.swapAt(child, (child - 1) / 2)
                    child = (child - 1) / 2
                }
            } else if less(heap[0], index) {
                heap[0] = index
                var parent = 0
                while true {
                    let left = 2 * parent + 1, right = left + 1
                    var smallest = parent
                    if left < heap.count, less(heap[left], heap[smallest]) { smallest = left }
                    if right < heap.count, less(heap[right], heap[smallest]) { smallest = right }
                    if smallest == parent { break }
                    heap.swapAt(parent, smallest)
                    parent = smallest
                }
            }
        }
        return heap.sorted { less($1, $0) }
    }

    /// Uniform in [0, 1) (SplitMix64).
    private mutating func nextUnit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) * 0x1p-53
    }
}
