import WeightsCore

/// The vocabulary of a SentencePiece-style tokenizer, as a GGUF file stores it
/// (`tokenizer.ggml.model = "llama"`): each token's text, score and type, by id.
///
/// Texts live in one contiguous byte buffer and are found through an open-addressing hash
/// table over their bytes, so a 262,144-token vocabulary loads without making a `String` or
/// a dictionary entry per token.
///
/// ```swift
/// let vocabulary = try SentencePieceVocabulary(texts: ["<unk>", "▁a", "b"], scores: [0, -1, -2],
///                                              types: [.unknown, .normal, .normal])
/// vocabulary.id(of: Array("▁a".utf8))   // 1
/// ```
package struct SentencePieceVocabulary: Sendable {
    /// What a token is for, as GGUF's `tokenizer.ggml.token_type` numbers it.
    package enum TokenType: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// Every token's bytes, back to back; token `i` is `bytes[starts[i]..<starts[i + 1]]`.
    private let bytes: [UInt8]
    private let starts: [Int32]
    package let scores: [Float]
    package let types: [TokenType]
    /// Open addressing over the token texts' hashes: `id + 1`, or 0 for an empty slot.
    private let slots: [Int32]
    private let mask: Int

    /// The number of tokens.
    package var count: Int { scores.count }

    /// The longest token text, in bytes.
    package let longestText: Int

    /// A vocabulary from token texts already gathered into one buffer.
    ///
    /// - Parameters:
    ///   - bytes: Every token's UTF-8 bytes, back to back.
    ///   - starts: Where each token begins in `bytes`, one more entry than there are tokens
    ///     (the last is `bytes.count`).
    /// - Throws: `invalidData` when the counts disagree, the offsets do not ascend within the
    ///   buffer, a type is unknown, or there are more tokens than an `Int32` id can name.
    /// - Complexity: O(total bytes).
    package init(bytes: [UInt8], starts: [Int32], scores: [Float], types rawTypes: [Int32]) throws(WeightsError) {
        let count = scores.count
        guard starts.count == count + 1, rawTypes.count == count, count < Int(Int32.max) else {
            throw WeightsError(.invalidData,
                "the vocabulary has \(max(starts.count - 1, 0)) texts, \(count) scores and \(rawTypes.count) types")
        }
        guard starts.first == 0, starts.last.map({ Int($0) == bytes.count }) == true else {
            throw WeightsError(.invalidData, "the token texts do not cover their buffer")
        }
        var types: [TokenType] = []
        types.reserveCapacity(count)
        var longest = 0
        for index in 0..<count {
            guard starts[index] <= starts[index + 1] else {
                throw WeightsError(.invalidData, "token \(index) ends before it begins")
            }
            guard let type = TokenType(rawValue: rawTypes[index]) else {
                throw WeightsError(.invalidData, "token \(index) has type \(rawTypes[index]), not one of 0 to 6")
            }
            types.append(type)
            longest = max(longest, Int(starts[index + 1] - starts[index]))
        }
        var capacity = 16
        while capacity < count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: 0, count: capacity)
        let mask = capacity - 1
        // Sound: `starts` ascends from 0 to bytes.count (checked above), so every
        // starts[i]..<starts[i + 1] lies in `buffer`, the array's own, lent for the closure.
        unsafe bytes.withUnsafeBufferPointer { buffer in
            // Each token's home slot, in one pass over the texts.
            var homes = [Int32](repeating: 0, count: count)
            for index in 0..<count {
                let text = unsafe UnsafeBufferPointer(rebasing: buffer[Int(starts[index])..<Int(starts[index + 1])])
                homes[index] = unsafe Int32(truncatingIfNeeded: Int(truncatingIfNeeded: Self.hash(text)) & mask)
            }
            // The ids in order of their home slots (a counting sort on the slot's top bits, ids
            // ascending within a bucket), so that the table below is written front to back
            // instead of at random: a 262,144-token vocabulary's table is 2 MB, and random
            // writes to it cost a cache miss per token.
            let shift = max(0, capacity.trailingZeroBitCount - 12)
            var bucketStarts = [Int](repeating: 0, count: (capacity >> shift) + 1)
            for home in homes { bucketStarts[Int(home) >> shift + 1] += 1 }
            for bucket in 1..<bucketStarts.count { bucketStarts[bucket] += bucketStarts[bucket - 1] }
            var order = [Int32](repeating: 0, count: count)
            for index in 0..<count {
                let bucket = Int(homes[index]) >> shift
                order[bucketStarts[bucket]] = Int32(index)
                bucketStarts[bucket] += 1
            }
            // Linear probing from each home slot; any insertion order gives a valid table, and
            // ids ascend among equal texts (same home), so a later token with the same text
            // replaces the earlier one, as llama.cpp's text-to-id map does.
            for next in order {
                let index = Int(next)
                let text = unsafe UnsafeBufferPointer(rebasing: buffer[Int(starts[index])..<Int(starts[index + 1])])
                var slot = Int(homes[index])
                while slots[slot] != 0 {
                    let other = Int(slots[slot] - 1)
                    if unsafe buffer[Int(starts[other])..<Int(starts[other + 1])].elementsEqual(text) { break }
                    slot = (slot + 1) & mask
                }
                slots[slot] = Int32(index + 1)
            }
        }
        self.bytes = bytes
        self.starts = starts
        self.scores = scores
        self.types = types
        self.slots = slots
        self.mask = mask
        self.longestText = longest
    }

    /// A vocabulary from token texts as strings: for tests and small vocabularies.
    package init(texts: [String], scores: [Float], types: [TokenType]) throws(WeightsError) {
        var bytes: [UInt8] = []
        var starts: [Int32] = [0]
        for text in texts {
            bytes.append(contentsOf: text.utf8)
            starts.append(Int32(truncatingIfNeeded: bytes.count))
        }
        try self.init(bytes: bytes, starts: starts, scores: scores, types: types.map(\.rawValue))
    }

    /// The bytes of token `id`'s text.
    package func text(of id: Int) -> ArraySlice<UInt8> {
        bytes[Int(starts[id])..<Int(starts[id + 1])]
    }

    /// The id of the token whose text is exactly `text`, or `nil`.
    ///
    /// - Complexity: O(`text.count`) expected.
    package func id(of text: some Collection<UInt8>) -> Int? {
        var slot = Int(truncatingIfNeeded: Self.hash(text)) & mask
        while slots[slot] != 0 {
            let candidate = Int(slots[slot] - 1)
            if text.count == Int(starts[candidate + 1] - starts[candidate]),
               bytes[Int(starts[candidate])..<Int(starts[candidate + 1])].elementsEqual(text) {
                return candidate
            }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// FNV-1a over the bytes, with a final mix so that the low bits used as the slot depend on
    /// every byte.
    private static func hash(_ text: some Collection<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        hash ^= hash >> 29
        hash = hash &* 0xBF58_476D_1CE4_E5B9
        return hash ^ (hash >> 32)
    }
}
