import WeightsCore

/// The vocabulary of a SentencePiece-style tokenizer, as a GGUF file stores it
/// (`tokenizer.ggml.model = "llama"`): each token's text, score and type, by id.
///
/// The texts stay as GGUF's string array lays them out (each a little-endian 64-bit length,
/// then its bytes), copied from the mapping in one piece, and are found through a static hash
/// table over their bytes, so a 262,144-token vocabulary loads without making a `String` or a
/// dictionary entry per token. The table is the ids sorted by their texts' hash buckets (a
/// counting sort), each entry keeping the top 32 bits of its hash beside the id: a lookup
/// scans one bucket, about four entries, comparing integers, and compares texts only where
/// those bits agree. One pass over the texts checks their lengths, hashes each and counts the
/// buckets; a second pass, over the hashes alone, places the ids. Building writes about 3 MB
/// for such a vocabulary (the ids by bucket, 8 bytes a token, and their hashes in order while
/// building), which matters as much as the arithmetic: on a virtual machine each page of fresh
/// memory costs a fault of a few microseconds.
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

    /// The texts as a GGUF string array: each one's 8-byte length, then its bytes.
    private let strings: [UInt8]
    /// Where each token's bytes begin in `strings`, and one more entry: where a next token's
    /// would (`strings.count + 8`). Token `i` ends 8 bytes (its successor's length) before
    /// `starts[i + 1]`.
    private let starts: [Int32]
    package let scores: [Float]
    package let types: [TokenType]
    /// The ids by hash bucket, ascending within a bucket: each entry is the top 32 bits of
    /// its text's hash above the id.
    private let entries: [UInt64]
    /// Where each bucket's entries begin in `entries`, one more than there are buckets.
    private let bucketStarts: [Int32]
    /// The right shift that takes a hash to its bucket (its top bits).
    private let bucketShift: UInt64

    /// The bytes of a string array's length field.
    private static let lengthBytes = 8

    /// The number of tokens.
    package var count: Int { scores.count }

    /// The longest token text, in bytes.
    package let longestText: Int

    /// A vocabulary from token texts laid out as a GGUF string array.
    ///
    /// - Parameters:
    ///   - strings: The texts, each a little-endian `UInt64` length followed by that many
    ///     UTF-8 bytes, back to back (`tokenizer.ggml.tokens`'s element bytes).
    ///   - scores: One score a token; their count is the number of tokens.
    /// - Throws: `invalidData` when a text runs past `strings`, `strings` holds more than the
    ///   texts, the counts disagree, or the texts pass 2 GiB.
    /// - Complexity: O(total bytes).
    package init(strings: [UInt8], scores: [Float], types: [TokenType]) throws(WeightsError) {
        let count = scores.count, lengthBytes = Self.lengthBytes
        guard types.count == count else {
            throw WeightsError(.invalidData, "the vocabulary has \(count) scores and \(types.count) types")
        }
        guard strings.count < Int(Int32.max) - lengthBytes else {
            throw WeightsError(.invalidData, "the token texts take \(strings.count) bytes, more than 2 GiB")
        }
        // About four tokens a bucket; the bucket is the hash's top bits.
        var bucketBits = 4
        while 1 << (bucketBits + 2) < count { bucketBits += 1 }
        let shift = UInt64(64 - bucketBits)
        var bucketStarts = [Int32](repeating: 0, count: (1 << bucketBits) + 1)
        var starts = [Int32](repeating: 0, count: count + 1)
        var longest = 0
        // Each token's tag (the hash's top 32 bits) above its id, in id order.
        var tagged = [UInt64](repeating: 0, count: count)
        // Sound: each length is loaded at an offset checked to leave 8 bytes in `raw`, and each
        // text is read only after its length is checked against what is left of `raw`; the
        // arrays written are indexed by ids below `count` and buckets (a shift that leaves
        // `bucketBits` bits) below `counts.count - 1`.
        try unsafe strings.withUnsafeBufferPointer { (buffer) throws(WeightsError) in
            let raw = UnsafeRawBufferPointer(buffer)
            try unsafe starts.withUnsafeMutableBufferPointer { (starts) throws(WeightsError) in
                try unsafe tagged.withUnsafeMutableBufferPointer { (tagged) throws(WeightsError) in
                    try unsafe bucketStarts.withUnsafeMutableBufferPointer { (counts) throws(WeightsError) in
                        var offset = 0
                        for index in 0..<count {
                            guard offset + lengthBytes <= raw.count else { throw Self.runsPast(index) }
                            let length = unsafe UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                            offset += lengthBytes
                            guard length <= UInt64(raw.count - offset) else { throw Self.runsPast(index) }
                            let hash = unsafe Self.hash(raw, offset, Int(length))
                            unsafe starts[index] = Int32(offset)
                            unsafe tagged[index] = Self.tag(hash) | UInt64(index)
                            unsafe counts[Int(hash >> shift) + 1] += 1
                            offset += Int(length)
                            longest = max(longest, Int(length))
                        }
                        guard offset == raw.count else {
                            throw WeightsError(.invalidData, "the token array holds \(raw.count - offset) bytes after its \(count) texts")
                        }
                        unsafe starts[count] = Int32(offset + lengthBytes)
                    }
                }
            }
        }
        // A counting sort by bucket: each bucket's start is the counts before it; each id goes
        // after the ones before it in its bucket, so ids ascend within one.
        var entries = [UInt64](repeating: 0, count: count)
        // Sound: the buckets are tags shifted to `bucketBits` bits, below `next.count - 1`;
        // their starts plus their counts stay below `count`.
        unsafe bucketStarts.withUnsafeMutableBufferPointer { next in
            for bucket in 1..<next.count { unsafe next[bucket] += next[bucket - 1] }
            unsafe entries.withUnsafeMutableBufferPointer { entries in
                unsafe tagged.withUnsafeBufferPointer { tagged in
                    for index in 0..<count {
                        let entry = unsafe tagged[index]
                        let bucket = Int(entry >> shift)
                        unsafe entries[Int(next[bucket])] = entry
                        unsafe next[bucket] += 1
                    }
                }
            }
            // Each bucket's count was added into its own start: shift the starts back by one.
            for bucket in stride(from: next.count - 1, to: 0, by: -1) { unsafe next[bucket] = next[bucket - 1] }
            unsafe next[0] = 0
        }
        self.strings = strings
        self.starts = starts
        self.scores = scores
        self.types = types
        self.entries = entries
        self.bucketStarts = bucketStarts
        self.bucketShift = shift
        self.longestText = longest
    }

    private static func runsPast(_ index: Int) -> WeightsError {
        WeightsError(.invalidData, "token \(index)'s text runs past the token array")
    }

    /// A vocabulary whose token types are GGUF's numbers.
    ///
    /// - Throws: `invalidData` for a type that is not one of 0 to 6, or as
    ///   ``init(strings:scores:types:)-(_,_,[TokenType])`` does.
    package init(strings: [UInt8], scores: [Float], types rawTypes: [Int32]) throws(WeightsError) {
        let types = try rawTypes.enumerated().map { (index, raw) throws(WeightsError) in try TokenType(gguf: Int(raw), token: index) }
        try self.init(strings: strings, scores: scores, types: types)
    }

    /// A vocabulary from token texts as strings: for tests and small vocabularies.
    ///
    /// - Throws: `invalidData` when there are more or fewer texts than scores.
    package init(texts: [String], scores: [Float], types: [TokenType]) throws(WeightsError) {
        guard texts.count == scores.count else {
            throw WeightsError(.invalidData, "the vocabulary has \(texts.count) texts and \(scores.count) scores")
        }
        var strings: [UInt8] = []
        for text in texts {
            let length = UInt64(text.utf8.count)
            for byte in 0..<8 { strings.append(UInt8(truncatingIfNeeded: length >> (8 * byte))) }
            strings.append(contentsOf: text.utf8)
        }
        try self.init(strings: strings, scores: scores, types: types.map(\.rawValue))
    }

    /// The bytes of token `id`'s text.
    package func text(of id: Int) -> ArraySlice<UInt8> {
        strings[Int(starts[id])..<Int(starts[id + 1]) - Self.lengthBytes]
    }

    /// The length of token `id`'s text, in bytes.
    package func textLength(of id: Int) -> Int {
        Int(starts[id + 1] - starts[id]) - Self.lengthBytes
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
            if text.count == textLength(of: candidate), self.text(of: candidate).elementsEqual(text) {
                found = candidate
            }
        }
        return found
    }

    /// The entry bits that hold a hash's tag.
    private static let tagMask: UInt64 = 0xFFFF_FFFF_0000_0000

    /// The part of `hash` an entry keeps above the id: its top 32 bits (the bucket's bits
    /// among them, so an entry also says its bucket).
    private static func tag(_ hash: UInt64) -> UInt64 { hash & tagMask }

    /// A hash of the bytes, taken 8 at a time as little-endian words, the last one short (or
    /// empty) and zero-padded: a text of *n* bytes has max(2, ⌈*n*/8⌉) words (so 16 bytes or
    /// fewer are always two, and hash without a branch on their length). Each word but the
    /// last is mixed in with a multiply, the length first; a final mix with the last word
    /// makes the top bits (the bucket and the tag) depend on every byte.
    ///
    /// Lookups hash any collection of bytes with this; the table's build hashes its buffer
    /// with ``hash(_:_:_:)``, which loads whole words and gives the same value.
    private static func hash(_ text: some Collection<UInt8>) -> UInt64 {
        let count = text.count, words = wordCount(count)
        var hash = UInt64(truncatingIfNeeded: count) &* hashMultiplier
        var word: UInt64 = 0, last: UInt64 = 0
        var shift: UInt64 = 0, index = 0
        for byte in text {
            word |= UInt64(byte) &<< shift
            shift &+= 8
            if shift == 64 {
                if index < words - 1 { hash = mix(hash, word) } else { last = word }
                (word, shift, index) = (0, 0, index + 1)
            }
        }
        // The short word, then the empty ones up to the last.
        while index < words - 1 {
            hash = mix(hash, word)
            (word, index) = (0, index + 1)
        }
        if index == words - 1 { last = word }
        return finish(hash, last)
    }

    /// ``hash(_:)-(some Collection<UInt8>)`` of `length` bytes of `raw` from `offset`, each
    /// word one load masked to its bytes where 8 bytes from it lie in `raw` (the load reads on
    /// past the text, into what follows it), else read byte by byte: for 16 bytes or fewer, no
    /// branch on the length, so none mispredicted per token.
    ///
    /// - Precondition: `offset..<offset + length` lies in `raw`.
    @inline(__always)
    private static func hash(_ raw: UnsafeRawBufferPointer, _ offset: Int, _ length: Int) -> UInt64 {
        // Word `k` of the text: its bytes from 8k, at most 8, zero-padded.
        func word(_ k: Int) -> UInt64 {
            let position = offset + 8 * k, available = min(max(length - 8 * k, 0), 8)
            // Sound: the load covers 8 bytes checked to lie in `raw`; the bytes read one by one
            // are below offset + length, inside `raw` by the precondition.
            if position + 8 <= raw.count {
                // A shift by 64 (no bytes) gives an empty mask.
                let mask = available == 8 ? UInt64.max : UInt64.max >> UInt64(64 - 8 * available)
                return UInt64(littleEndian: unsafe raw.loadUnaligned(fromByteOffset: position, as: UInt64.self)) & mask
            }
            var word: UInt64 = 0
            for index in 0..<available { word |= UInt64(unsafe raw[position + index]) &<< UInt64(8 * index) }
            return word
        }
        var hash = UInt64(truncatingIfNeeded: length) &* hashMultiplier
        let words = wordCount(length)
        for k in 0..<words - 1 { hash = mix(hash, word(k)) }
        return finish(hash, word(words - 1))
    }

    /// The words a text of `count` bytes hashes as: max(2, ⌈count / 8⌉).
    @inline(__always)
    private static func wordCount(_ count: Int) -> Int { max(2, (count + 7) / 8) }

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
