import WeightsCore

/// The vocabulary of a SentencePiece-style tokenizer, as a GGUF file stores it
/// (`tokenizer.ggml.model = "llama"`): each token's text, score and type, by id.
///
/// Texts live in one contiguous byte buffer and are found through a static hash table over
/// their bytes, so a 262,144-token vocabulary loads without making a `String` or a dictionary
/// entry per token. The table is the ids sorted by their texts' hash buckets (a counting sort,
/// two passes over the texts), each entry keeping 32 more bits of its hash beside the id: a
/// lookup scans one bucket, about four entries, comparing integers, and compares texts only
/// where those bits agree. Building it writes about 2.3 MB for such a vocabulary (8 bytes a
/// token and 4 a bucket) and nothing else, which matters as much as the arithmetic: on a virtual
/// machine each page of fresh memory costs a fault of a few microseconds.
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

        /// The type numbered `raw` in `tokenizer.ggml.token_type`, for token `index`.
        ///
        /// - Throws: `invalidData` naming the token when `raw` is not one of 0 to 6.
        package init(gguf raw: Int, token index: Int) throws(WeightsError) {
            guard let type = Int32(exactly: raw).flatMap(TokenType.init(rawValue:)) else {
                throw WeightsError(.invalidData, "token \(index) has type \(raw) in 'tokenizer.ggml.token_type', not one of 0 to 6")
            }
            self = type
        }
    }

    /// Every token's bytes, back to back; token `i` is `bytes[starts[i]..<starts[i + 1]]`.
    private let bytes: [UInt8]
    private let starts: [Int32]
    package let scores: [Float]
    package let types: [TokenType]
    /// The ids by hash bucket, ascending within a bucket: each entry is the 32 bits of its
    /// text's hash that `tag(_:)` takes, above the id.
    private let entries: [UInt64]
    /// Where each bucket's entries begin in `entries`, one more than there are buckets.
    private let bucketStarts: [Int32]
    /// The right shift that takes a hash to its bucket (its top bits).
    private let bucketShift: UInt64

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
    ///   buffer, or there are more tokens than an `Int32` id can name.
    /// - Complexity: O(total bytes).
    package init(bytes: [UInt8], starts: [Int32], scores: [Float], types: [TokenType]) throws(WeightsError) {
        let count = scores.count
        guard starts.count == count + 1, types.count == count, count < Int(Int32.max) else {
            throw WeightsError(.invalidData,
                "the vocabulary has \(max(starts.count - 1, 0)) texts, \(count) scores and \(types.count) types")
        }
        guard starts.first == 0, starts.last.map({ Int($0) == bytes.count }) == true else {
            throw WeightsError(.invalidData, "the token texts do not cover their buffer")
        }
        var longest = 0
        for index in 0..<count {
            guard starts[index] <= starts[index + 1] else {
                throw WeightsError(.invalidData, "token \(index) ends before it begins")
            }
            longest = max(longest, Int(starts[index + 1] - starts[index]))
        }
        // About four tokens a bucket; the bucket is the hash's top bits.
        var bucketBits = 4
        while 1 << (bucketBits + 2) < count { bucketBits += 1 }
        let shift = UInt64(64 - bucketBits)
        var bucketStarts = [Int32](repeating: 0, count: (1 << bucketBits) + 1)
        var entries = [UInt64](repeating: 0, count: count)
        // Sound: `starts` ascends from 0 to bytes.count (checked above), so every
        // starts[i]..<starts[i + 1] lies in `buffer`, the array's own, lent for the closure.
        unsafe bytes.withUnsafeBufferPointer { buffer in
            func text(_ index: Int) -> UnsafeBufferPointer<UInt8> {
                unsafe UnsafeBufferPointer(rebasing: buffer[Int(starts[index])..<Int(starts[index + 1])])
            }
            // A counting sort by bucket: count each bucket's tokens, then place each id after
            // the ones before it in its bucket (so ids ascend within one), hashing each text
            // again rather than keeping the hashes in memory of their own.
            unsafe bucketStarts.withUnsafeMutableBufferPointer { next in
                for index in 0..<count { unsafe next[Int(Self.hash(text(index)) >> shift) + 1] += 1 }
                for bucket in 1..<next.count { unsafe next[bucket] += next[bucket - 1] }
                unsafe entries.withUnsafeMutableBufferPointer { entries in
                    for index in 0..<count {
                        let hash = unsafe Self.hash(text(index))
                        let bucket = Int(hash >> shift)
                        unsafe entries[Int(next[bucket])] = Self.tag(hash) | UInt64(index)
                        unsafe next[bucket] += 1
                    }
                }
                // Each bucket's count was added into its own start: shift the starts back by one.
                for bucket in stride(from: next.count - 1, to: 0, by: -1) { unsafe next[bucket] = next[bucket - 1] }
                unsafe next[0] = 0
            }
        }
        self.bytes = bytes
        self.starts = starts
        self.scores = scores
        self.types = types
        self.entries = entries
        self.bucketStarts = bucketStarts
        self.bucketShift = shift
        self.longestText = longest
    }

    /// A vocabulary whose token types are GGUF's numbers.
    ///
    /// - Throws: `invalidData` for a type that is not one of 0 to 6, or as
    ///   ``init(bytes:starts:scores:types:)-(_,_,_,[TokenType])`` does.
    package init(bytes: [UInt8], starts: [Int32], scores: [Float], types rawTypes: [Int32]) throws(WeightsError) {
        let types = try rawTypes.enumerated().map { (index, raw) throws(WeightsError) in try TokenType(gguf: Int(raw), token: index) }
        try self.init(bytes: bytes, starts: starts, scores: scores, types: types)
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

    /// The id of the token whose text is exactly `text`, or `nil`; where several tokens have
    /// that text, the last, as llama.cpp's text-to-id map keeps it.
    ///
    /// - Complexity: O(`text.count`) expected.
    package func id(of text: some Collection<UInt8>) -> Int? {
        let hash = Self.hash(text)
        let tag = Self.tag(hash)
        let bucket = Int(hash >> bucketShift)
        var found: Int?
        for position in Int(bucketStarts[bucket])..<Int(bucketStarts[bucket + 1]) where entries[position] & Self.tagMask == tag {
            let candidate = Int(entries[position] & ~Self.tagMask)
            if text.count == Int(starts[candidate + 1] - starts[candidate]),
               bytes[Int(starts[candidate])..<Int(starts[candidate + 1])].elementsEqual(text) {
                found = candidate
            }
        }
        return found
    }

    /// The entry bits that hold a hash's tag.
    private static let tagMask: UInt64 = 0xFFFF_FFFF_0000_0000

    /// The part of `hash` an entry keeps above the id: its low 32 bits, moved up (the bucket
    /// comes from the top ones, at most 31 of them for an `Int32` count of tokens).
    private static func tag(_ hash: UInt64) -> UInt64 { hash << 32 }

    /// A hash of the bytes, taken 8 at a time: each little-endian word of them, the last one
    /// short (or empty), is mixed in with a multiply, the length first; a final mix makes the
    /// top bits (the bucket) and the low ones (the tag) depend on every byte.
    ///
    /// Lookups hash any collection of bytes with this; the table's build hashes its buffer
    /// with ``hash(_:)-(UnsafeBufferPointer<UInt8>)``, which loads whole words and gives the
    /// same value.
    private static func hash(_ text: some Collection<UInt8>) -> UInt64 {
        var hash = UInt64(truncatingIfNeeded: text.count) &* hashMultiplier
        var word: UInt64 = 0
        var shift: UInt64 = 0
        for byte in text {
            word |= UInt64(byte) &<< shift
            shift &+= 8
            if shift == 64 {
                hash = mix(hash, word)
                (word, shift) = (0, 0)
            }
        }
        return finish(hash, word)
    }

    /// ``hash(_:)-(some Collection<UInt8>)`` of bytes in memory, a word at a time.
    @inline(__always)
    private static func hash(_ text: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let raw = UnsafeRawBufferPointer(text)
        var hash = UInt64(truncatingIfNeeded: raw.count) &* hashMultiplier
        var offset = 0
        // Sound: every load and read below is at offsets inside `raw`.
        while offset + 8 <= raw.count {
            hash = mix(hash, UInt64(littleEndian: unsafe raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            offset += 8
        }
        var word: UInt64 = 0
        var shift: UInt64 = 0
        while offset < raw.count {
            word |= UInt64(unsafe raw[offset]) &<< shift
            shift &+= 8
            offset += 1
        }
        return finish(hash, word)
    }

    private static let hashMultiplier: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inline(__always)
    private static func mix(_ hash: UInt64, _ word: UInt64) -> UInt64 {
        let mixed = (hash ^ word) &* hashMultiplier
        return mixed ^ (mixed >> 32)
    }

    @inline(__always)
    private static func finish(_ hash: UInt64, _ word: UInt64) -> UInt64 {
        var hash = (hash ^ word) &* 0xBF58_476D_1CE4_E5B9
        hash ^= hash >> 31
        hash = hash &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 29)
    }
}
