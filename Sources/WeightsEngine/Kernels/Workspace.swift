/// The activations of one forward pass over a packed batch, in one aligned allocation.
///
/// Sizes are O(tokens × (hidden + intermediate) + longest²): for 32 sequences of 256 tokens
/// of MiniLM, about 50 MB.
@safe  // Safety: owns the memory its pointers address (allocated at init, freed at deinit), and no pointer leaves its methods.
final class Workspace {
    let hidden, query, key, value, context, temporary, intermediate, scores, weightScratch: UnsafeMutablePointer<Float>
    /// A layer's input quantized per token (INT8 compute only; else a token buffer).
    let activationLevels: UnsafeMutableRawPointer
    /// The per-token scales of `activationLevels`.
    let activationScales: UnsafeMutablePointer<Float>
    private let memory: UnsafeMutableRawPointer

    /// - Parameter integerActivations: room for the quantized input of the widest layer
    ///   (INT8 compute).
    init(tokens: Int, longest: Int, configuration: BertConfiguration, weightScratch scratchCount: Int, threads: Int,
         integerActivations: Bool = false) {
        let width = tokens * configuration.hiddenSize
        // Round every buffer up to 16 floats so each starts on a 64-byte boundary.
        func rounded(_ count: Int) -> Int { (max(count, 1) + 15) & ~15 }
        let widest = max(configuration.hiddenSize, configuration.intermediateSize)
        let levelBytes = integerActivations ? Int8Product.largestActivationByteCount(rows: tokens, columns: widest) : 0
        let sizes = [width, width, width, width, width, width, tokens * configuration.intermediateSize,
                     threads * longest * longest, scratchCount, (levelBytes + 3) / 4,
                     integerActivations ? tokens : 0].map(rounded)
        // Sound: `memory` holds Σ sizes floats, 64-byte aligned; each `take` hands out the next
        // `sizes[i]` of them, so the buffers are disjoint, inside `memory`, and each starts on a
        // multiple of 16 floats. The sizes are what the layers use: `tokens` rows of hidden or
        // intermediate width, `threads` × longest² scores (``Attention``), the widened-weight
        // scratch ``BertEncoder`` sizes, `largestActivationByteCount` bytes of levels and one
        // scale per token. Floats and bytes are trivial types, so binding the memory once is enough.
        unsafe memory = UnsafeMutableRawPointer.allocate(byteCount: sizes.reduce(0, +) * 4, alignment: 64)
        var next = unsafe memory.bindMemory(to: Float.self, capacity: sizes.reduce(0, +))
        func take(_ size: Int) -> UnsafeMutablePointer<Float> {
            defer { unsafe next += size }
            return unsafe next
        }
        unsafe hidden = unsafe take(sizes[0])
        unsafe query = unsafe take(sizes[1])
        unsafe key = unsafe take(sizes[2])
        unsafe value = unsafe take(sizes[3])
        unsafe context = unsafe take(sizes[4])
        unsafe temporary = unsafe take(sizes[5])
        unsafe intermediate = unsafe take(sizes[6])
        unsafe scores = unsafe take(sizes[7])
        unsafe weightScratch = unsafe take(sizes[8])
        unsafe activationLevels = unsafe UnsafeMutableRawPointer(take(sizes[9]))
        unsafe activationScales = unsafe take(sizes[10])
    }

    deinit { unsafe memory.deallocate() }  // Sound: allocated in init; no pointer into it outlives self.
}

/// Token sequences laid end to end, so that no work is spent on padding: every matrix
/// product covers exactly the real tokens, and attention runs per sequence over its own
/// length, which is what masking the padding of a padded batch computes.
struct PackedSequences {
    /// All token ids, sequence after sequence.
    var ids: [Int32] = []
    /// Where each sequence starts in `ids`.
    var starts: [Int] = []
    /// Each sequence's length.
    var lengths: [Int] = []

    init<S: Collection<Int32>>(_ sequences: some Collection<S>) {
        for sequence in sequences {
            starts.append(ids.count)
            lengths.append(sequence.count)
            ids.append(contentsOf: sequence)
        }
    }

    var tokenCount: Int { ids.count }
    var count: Int { lengths.count }
    var longest: Int { lengths.max() ?? 0 }
}
