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
/// buckets; a second pass, over the hashes alone, places the ids. Everything lives in one
/// buffer, about 9 MB for such a vocabulary (the texts 3.6 MB, their starts 1 MB, the table
/// 2.3 MB), which comes in huge pages, as do the hashes in id order (2 MB) while building: on a virtual machine each 4 KiB page of fresh memory costs a fault of a few
/// microseconds, and in small pages the faults were half the build's time.
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

    /// The table, in one buffer (so that a large vocabulary's comes in huge pages, see
    /// ``ByteStorage/allocate(count:zeroed:initialize:)``: half the build's time was page
    /// faults): the texts as a GGUF string array (each one's 8-byte length, then its bytes);
    /// each token's start in them (`Int32`, one more: where a next token's would be); the
    /// entries, ids by hash bucket (`UInt64`: the top 32 bits of the text's hash above the id);
    /// and where each bucket's entries begin (`Int32`, one more than there are buckets).
    /// Token `i` ends 8 bytes (its successor's length) before start `i + 1`.
    private let table: ByteStorage
    private let layout: Layout
    package let scores: [Float]
    package let types: [TokenType]
    /// The right shift that takes a hash to its bucket (its top bits).
    private let bucketShift: UInt64

    /// Where each part of ``table`` begins, in bytes, each on a 64-byte boundary.
    private struct Layout: Sendable {
        var starts: Int
        var entries: Int
        var buckets: Int
        var size: Int

        init(stringBytes: Int, count: Int, buckets: Int) {
            func aligned(_ offset: Int) -> Int { (offset + 63) & ~63 }
            starts = aligned(stringBytes)
            entries = aligned(starts + 4 * (count + 1))
            self.buckets = aligned(entries + 8 * count)
            size = self.buckets + 4 * (buckets + 1)
        }
    }

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
        // Sound: the array lends its bytes for the call, which copies them.
        let built = try unsafe strings.withUnsafeBufferPointer { (buffer) throws(WeightsError) in
            try unsafe Self.build(copying: UnsafeRawBufferPointer(buffer), count: scores.count)
        }
        try self.init(built, scores: scores, types: types)
    }

    /// A vocabulary from token texts laid out as a GGUF string array, copied from `strings`
    /// (which need only be valid for the call): as ``init(strings:scores:types:)-(_,_,[TokenType])``.
    package init(copying strings: UnsafeRawBufferPointer, scores: [Float], types: [TokenType]) throws(WeightsError) {
        // Sound: `strings` is valid for the call (the caller's side of it), and copied.
        try self.init(unsafe Self.build(copying: strings, count: scores.count), scores: scores, types: types)
    }

    /// What ``build(copying:count:)`` makes.
    private struct Built {
        var table: ByteStorage
        var layout: Layout
        var shift: UInt64
        var longest: Int
    }

    private init(_ built: Built, scores: [Float], types: [TokenType]) throws(WeightsError) {
        guard types.count == scores.count else {
            throw WeightsError(.invalidData, "the vocabulary has \(scores.count) scores and \(types.count) types")
        }
        table = built.table
        layout = built.layout
        bucketShift = built.shift
        longestText = built.longest
        self.scores = scores
        self.types = types
    }

    /// The table of `count` texts copied from `strings`, a GGUF string array.
    private static func build(copying strings: UnsafeRawBufferPointer, count: Int) throws(WeightsError) -> Built {
        let lengthBytes = Self.lengthBytes
        guard strings.count < Int(Int32.max) - lengthBytes else {
            throw WeightsError(.invalidData, "the token texts take \(strings.count) bytes, more than 2 GiB")
        }
        // About four tokens a bucket; the bucket is the hash's top bits.
        var bucketBits = 4
        while 1 << (bucketBits + 2) < count { bucketBits += 1 }
        let shift = UInt64(64 - bucketBits), buckets = 1 << bucketBits
        let layout = Layout(stringBytes: strings.count, count: count, buckets: buckets)
        var longest = 0
        var failure: WeightsError?
        // Sound: every part written below lies in the buffer, as `layout` places them: texts
        // at 0..<stringBytes, `count + 1` starts, `count` entries and `buckets + 1` bucket
        // starts. Each length is loaded at an offset checked to leave 8 bytes in the texts,
        // and each text is read only after its length is checked against what is left of
        // them; buckets are a shift that leaves `bucketBits` bits; the scratch holds `count`
        // entries; each bucket's running start stays inside its range of the `count` entries.
        let table = unsafe ByteStorage.allocate(count: layout.size, zeroed: true) { buffer in
            guard let base = buffer.baseAddress else { return }
            unsafe base.copyMemory(from: strings.baseAddress ?? UnsafeRawPointer(base), byteCount: strings.count)
            let raw = unsafe UnsafeRawBufferPointer(start: base, count: strings.count)
            let starts = unsafe (base + layout.starts).assumingMemoryBound(to: Int32.self)
            let entries = unsafe (base + layout.entries).assumingMemoryBound(to: UInt64.self)
            let bucketStarts = unsafe (base + layout.buckets).assumingMemoryBound(to: Int32.self)
            // The entries in id order while building, in memory of their own (huge pages too,
            // from a chunk of an arena) that is released when the table is made.
            _ = unsafe ByteArena().allocate(count: 8 * max(count, 1)) { scratch in
                let tagged = unsafe scratch.baseAddress!.assumingMemoryBound(to: UInt64.self)
                // Each text: its length checked, its start kept, its hash's tag and its id written
                // as an entry in id order, its bucket counted (one above it, for the sums below).
                var offset = 0
                for index in 0..<count {
                    guard offset + lengthBytes <= raw.count else { failure = Self.runsPast(index); return }
                    let length = unsafe UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                    offset += lengthBytes
                    guard length <= UInt64(raw.count - offset) else { failure = Self.runsPast(index); return }
                    let hash = unsafe Self.hash(raw, offset, Int(length))
                    unsafe starts[index] = Int32(offset)
                    unsafe tagged[index] = Self.tag(hash) | UInt64(index)
                    unsafe bucketStarts[Int(hash >> shift) + 1] += 1
                    offset += Int(length)
                    longest = max(longest, Int(length))
                }
                guard offset == raw.count else {
                    failure = WeightsError(.invalidData, "the token array holds \(raw.count - offset) bytes after its \(count) texts")
                    return
                }
                unsafe starts[count] = Int32(offset + lengthBytes)
                for bucket in 1...buckets { unsafe bucketStarts[bucket] += bucketStarts[bucket - 1] }
                // A counting sort by bucket: each id goes after the ones before it in its bucket.
                // (Placing the entries in place instead, by swaps, is a chain of dependent misses:
                // several times slower.)
                for index in 0..<count {
                    let entry = unsafe tagged[index]
                    let bucket = Int(entry >> shift)
                    unsafe entries[Int(bucketStarts[bucket])] = entry
                    unsafe bucketStarts[bucket] += 1
                }
                // Each bucket's start moved up to the next one's: move them back by one.
                for bucket in stride(from: buckets, to: 0, by: -1) { unsafe bucketStarts[bucket] = bucketStarts[bucket - 1] }
                unsafe bucketStarts[0] = 0
            }
        }
        if let failure { throw failure }
        return Built(table: table, layout: layout, shift: shift, longest: longest)
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

    /// Where token `id`'s text begins in ``table``.
    @inline(__always)
    private func start(_ id: Int) -> Int {
        // Sound: `id` is at most `count`: the starts hold `count + 1` values (see `layout`).
        unsafe Int(table.bytes.load(fromByteOffset: layout.starts + 4 * id, as: Int32.self))
    }

    /// Token `id`'s text where it lies in ``table``, for `body`; the pointer must not escape.
    @inline(__always)
    private func withText<R>(_ id: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let start = start(id), length = textLength(of: id)
        // Sound: the starts were checked to lie in the texts, each text before the next
        // start's length field; `self` holds `table` for the call.
        return withExtendedLifetime(table) { unsafe body(UnsafeRawBufferPointer(rebasing: table.bytes[start..<start + length])) }
    }

    /// The bytes of token `id`'s text.
    package func text(of id: Int) -> [UInt8] {
        // Sound: the text is copied out before the call ends.
        unsafe withText(id) { unsafe Array($0) }
    }

    /// The length of token `id`'s text, in bytes.
    package func textLength(of id: Int) -> Int {
        start(id + 1) - start(id) - Self.lengthBytes
    }

    /// The first byte of token `id`'s text, or `nil` for an empty one.
    package func firstByte(of id: Int) -> UInt8? {
        // Sound: the text is only read during the call.
        unsafe withText(id) { unsafe $0.first }
    }

    /// Whether token `id`'s text is exactly `bytes`.
    package func text(of id: Int, equals bytes: some Collection<UInt8>) -> Bool {
        // Sound: the text is only read during the call.
        guard bytes.count == textLength(of: id) else { return false }
        return unsafe withText(id) { unsafe $0.elementsEqual(bytes) }
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
        // Sound: the bucket is below the bucket count (a shift that leaves its bits), its
        // range of entries inside the `count` entries; `self` holds `table`.
        withExtendedLifetime(table) {
            let bytes = unsafe table.bytes
            let first = unsafe Int(bytes.load(fromByteOffset: layout.buckets + 4 * bucket, as: Int32.self))
            let end = unsafe Int(bytes.load(fromByteOffset: layout.buckets + 4 * bucket + 4, as: Int32.self))
            for position in first..<end {
                let entry = unsafe bytes.load(fromByteOffset: layout.entries + 8 * position, as: UInt64.self)
                guard entry & Self.tagMask == tag else { continue }
                // Ids ascend within a bucket: the last match is the largest id.
                let candidate = Int(entry & ~Self.tagMask)
                if self.text(of: candidate, equals: text) { found = candidate }
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
