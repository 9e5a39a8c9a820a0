import WeightsCore

/// The tokenizer GGUF files name `llama` (`tokenizer.ggml.model`): SentencePiece-style merges
/// by score over UTF-8 characters, with byte fallback, as llama.cpp applies it.
///
/// Encoding a text:
/// 1. Special tokens written literally are cut out first, longest first: user-defined tokens
///    always, control tokens (`<start_of_turn>`, …) when `parseSpecial` is on.
/// 2. Each remaining run of text, with a space in front when the file asks for one and a
///    special token (or the start) comes before it, has its spaces replaced by `▁` (U+2581)
///    and is split into characters.
/// 3. Adjacent pieces whose concatenation is a token are merged, the highest-scoring pair
///    first (the leftmost among equals), until no pair is a token.
/// 4. A piece that is not a token becomes one `<0xNN>` token per byte.
///
/// ```swift
/// let tokenizer = SentencePieceTokenizer(vocabulary: vocabulary, configuration: .init(bos: 2, eos: 1, unknown: 3))
/// let ids = tokenizer.encode("Hello world")        // [2, …]
/// tokenizer.decode(ids)                             // "Hello world"
/// ```
package struct SentencePieceTokenizer: Sendable {
    /// The special ids and flags a GGUF file's `tokenizer.ggml.*` keys give.
    package struct Configuration: Sendable, Hashable {
        package var bos: Int?
        package var eos: Int?
        package var unknown: Int?
        package var addBOS: Bool
        package var addEOS: Bool
        package var addSpacePrefix: Bool

        package init(bos: Int? = 1, eos: Int? = 2, unknown: Int? = 0,
                     addBOS: Bool = true, addEOS: Bool = false, addSpacePrefix: Bool = true) {
            self.bos = bos
            self.eos = eos
            self.unknown = unknown
            self.addBOS = addBOS
            self.addEOS = addEOS
            self.addSpacePrefix = addSpacePrefix
        }
    }

    package let vocabulary: SentencePieceVocabulary
    package let configuration: Configuration
    /// Tokens matched literally before merging (control, user-defined and unknown ones),
    /// grouped by their first byte, longest first within a group.
    private let specialsByFirstByte: [[Int]]
    /// Each special token's rank in the order llama.cpp tries them: longest first.
    private let specialRank: [Int: Int]
    /// The `<0xNN>` token of each byte, or `nil` where the vocabulary has none.
    private let byteTokens: [Int?]

    /// - Throws: `invalidData` when a configured id is outside the vocabulary.
    package init(vocabulary: SentencePieceVocabulary, configuration: Configuration) throws(WeightsError) {
        for (name, id) in [("bos", configuration.bos), ("eos", configuration.eos), ("unknown", configuration.unknown)] {
            if let id, !(0..<vocabulary.count).contains(id) {
                throw WeightsError(.invalidData, "the \(name) token id \(id) is outside the \(vocabulary.count)-token vocabulary")
            }
        }
        self.vocabulary = vocabulary
        self.configuration = configuration
        var specials: [Int] = []
        for (id, type) in vocabulary.types.enumerated() {
            switch type {
            case .control, .userDefined, .unknown: if vocabulary.textLength(of: id) > 0 { specials.append(id) }
            default: break
            }
        }
        specials.sort { a, b in
            let (lengthA, lengthB) = (vocabulary.textLength(of: a), vocabulary.textLength(of: b))
            return lengthA != lengthB ? lengthA > lengthB : a < b
        }
        var groups = [[Int]](repeating: [], count: 256)
        var ranks: [Int: Int] = [:]
        for (rank, id) in specials.enumerated() {
            groups[Int(vocabulary.firstByte(of: id)!)].append(id)
            ranks[id] = rank
        }
        specialsByFirstByte = groups
        specialRank = ranks
        byteTokens = (0..<256).map { byte in
            vocabulary.id(of: Array("<0x\(Self.hexDigits(UInt8(byte)))>".utf8))
                ?? vocabulary.id(of: [UInt8(byte)])
        }
    }

    // MARK: - Encoding

    /// The token ids of `text`.
    ///
    /// - Parameters:
    ///   - addSpecial: Add the BOS (and EOS) tokens the configuration asks for.
    ///   - parseSpecial: Read control tokens written in the text (`<start_of_turn>`) as
    ///     themselves; when off they are tokenized as plain text.
    /// - Complexity: O(*n* log *n*) in the text's length, plus O(*n* · *s*) to find special
    ///   tokens, where *s* is the number of special tokens sharing a first byte.
    package func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int] {
        var output: [Int] = []
        if addSpecial, configuration.addBOS, let bos = configuration.bos { output.append(bos) }
        var previousIsSpecial = true
        let bytes = Array(text.utf8)
        for fragment in partition(bytes, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                output.append(id)
                previousIsSpecial = true
            case .text(let range):
                var escaped: [UInt8] = []
                escaped.reserveCapacity(range.count + 3)
                if configuration.addSpacePrefix && previousIsSpecial { escaped += Self.spaceMark }
                for byte in bytes[range] {
                    if byte == UInt8(ascii: " ") { escaped += Self.spaceMark } else { escaped.append(byte) }
                }
                merge(escaped, into: &output)
                previousIsSpecial = false
            }
        }
        if addSpecial, configuration.addEOS, let eos = configuration.eos { output.append(eos) }
        return output
    }

    private enum Fragment {
        case text(Range<Int>)
        case token(Int)
    }

    /// Cuts the special tokens out of `bytes`: each in turn, longest first, takes every
    /// occurrence, left to right, that no token before it took.
    private func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        // Every place a special token could match, with its rank.
        var matches: [(rank: Int, start: Int, id: Int)] = []
        for start in bytes.indices {
            for id in specialsByFirstByte[Int(bytes[start])] {
                let type = vocabulary.types[id]
                if !parseSpecial, type == .control || type == .unknown { continue }
                let length = vocabulary.textLength(of: id)
                guard start + length <= bytes.count,
                      vocabulary.text(of: id, equals: bytes[start..<start + length]) else { continue }
                matches.append((specialRank[id]!, start, id))
            }
        }
        guard !matches.isEmpty else { return bytes.isEmpty ? [] : [.text(0..<bytes.count)] }
        matches.sort { $0.rank != $1.rank ? $0.rank < $1.rank : $0.start < $1.start }
        var taken = [Bool](repeating: false, count: bytes.count)
        var accepted: [(start: Int, end: Int, id: Int)] = []
        for match in matches {
            let end = match.start + vocabulary.textLength(of: match.id)
            guard !taken[match.start..<end].contains(true) else { continue }
            for index in match.start..<end { taken[index] = true }
            accepted.append((match.start, end, match.id))
        }
        accepted.sort { $0.start < $1.start }
        var fragments: [Fragment] = []
        var position = 0
        for token in accepted {
            if token.start > position { fragments.append(.text(position..<token.start)) }
            fragments.append(.token(token.id))
            position = token.end
        }
        if position < bytes.count { fragments.append(.text(position..<bytes.count)) }
        return fragments
    }

    /// Merges the characters of `text` by score and appends the tokens they form.
    private func merge(_ text: [UInt8], into output: inout [Int]) {
        guard !text.isEmpty else { return }
        var pieces: [Piece] = []
        var offset = 0
        while offset < text.count {
            let length = min(Self.utf8Length(leadByte: text[offset]), text.count - offset)
            pieces.append(Piece(start: offset, count: length, previous: pieces.count - 1,
                                next: offset + length == text.count ? -1 : pieces.count + 1))
            offset += length
        }
        var queue = BigramQueue()
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let start = pieces[left].start
            let count = pieces[left].count + pieces[right].count
            guard let id = vocabulary.id(of: text[start..<start + count]) else { return }
            queue.push(Bigram(left: left, right: right, score: vocabulary.scores[id], count: count))
        }
        for index in pieces.indices.dropFirst() { consider(index - 1, index) }
        while let bigram = queue.pop() {
            let (left, right) = (bigram.left, bigram.right)
            // A pair whose pieces changed since it was queued is stale.
            guard pieces[left].count > 0, pieces[right].count > 0,
                  pieces[left].count + pieces[right].count == bigram.count else { continue }
            pieces[left].count += pieces[right].count
            pieces[right].count = 0
            pieces[left].next = pieces[right].next
            if pieces[right].next >= 0 { pieces[pieces[right].next].previous = left }
            consider(pieces[left].previous, left)
            consider(left, pieces[left].next)
        }
        var index = 0
        while index != -1 {
            let piece = pieces[index]
            let bytes = text[piece.start..<piece.start + piece.count]
            if let id = vocabulary.id(of: bytes) {
                output.append(id)
            } else {
                // Merged pieces are tokens by construction, so only a single character that
                // the vocabulary lacks gets here: it is spelled out byte by byte.
                for byte in bytes {
                    if let id = byteTokens[Int(byte)] ?? configuration.unknown { output.append(id) }
                }
            }
            index = piece.next
        }
    }

    private struct Piece {
        var start: Int
        var count: Int
        var previous: Int
        var next: Int
    }

    private struct Bigram {
        var left: Int
        var right: Int
        var score: Float
        var count: Int

        /// Whether `self` is merged before `other`: the higher score, then the leftmost.
        func precedes(_ other: Bigram) -> Bool {
            score != other.score ? score > other.score : left < other.left
        }
    }

    /// A binary heap of bigrams, the one to merge next on top.
    private struct BigramQueue {
        private var heap: [Bigram] = []

        mutating func push(_ bigram: Bigram) {
            heap.append(bigram)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[child].precedes(heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }

        mutating func pop() -> Bigram? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var parent = 0
                while true {
                    let left = 2 * parent + 1, right = left + 1
                    var best = parent
                    if left < heap.count, heap[left].precedes(heap[best]) { best = left }
                    if right < heap.count, heap[right].precedes(heap[best]) { best = right }
                    guard best != parent else { break }
                    heap.swapAt(parent, best)
                    parent = best
                }
            }
            return top
        }
    }

    // MARK: - Decoding

    /// The bytes token `id` stands for in text: `▁` as a space, a byte token as its byte.
    /// Control and unknown tokens give nothing unless `special` is on.
    package func pieceBytes(of id: Int, special: Bool = false) -> [UInt8] {
        guard (0..<vocabulary.count).contains(id) else { return [] }
        let text = vocabulary.text(of: id)
        switch vocabulary.types[id] {
        case .normal:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.count)
            var index = text.startIndex
            while index < text.endIndex {
                if text[index...].starts(with: Self.spaceMark) {
                    bytes.append(UInt8(ascii: " "))
                    index += Self.spaceMark.count
                } else {
                    bytes.append(text[index])
                    index += 1
                }
            }
            return bytes
        case .userDefined: return Array(text)
        case .control: return special ? Array(text) : []
        case .unknown: return special ? Self.unknownMark : []
        case .byte: return Self.byteValue(text[...]).map { [$0] } ?? []
        case .undefined, .unused: return []
        }
    }

    /// The text of `ids`, pieces joined; bytes that do not form UTF-8 become U+FFFD.
    package func decode(_ ids: [Int], special: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { bytes += pieceBytes(of: id, special: special) }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Helpers

    /// U+2581, the character SentencePiece writes for a space.
    private static let spaceMark: [UInt8] = [0xE2, 0x96, 0x81]
    /// U+2585, what llama.cpp shows for the unknown token.
    private static let unknownMark: [UInt8] = [0xE2, 0x96, 0x85]

    /// The length of the UTF-8 sequence a byte begins, by its high four bits (a stray
    /// continuation byte counts as one).
    private static func utf8Length(leadByte: UInt8) -> Int {
        switch leadByte >> 4 {
        case 0xC, 0xD: 2
        case 0xE: 3
        case 0xF: 4
        default: 1
        }
    }

    private static func hexDigits(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    /// The byte of a `<0xNN>` token's text.
    private static func byteValue(_ text: ArraySlice<UInt8>) -> UInt8? {
        guard text.count == 6, text.starts(with: Array("<0x".utf8)), text.last == UInt8(ascii: ">") else { return nil }
        let digits = text.dropFirst(3).prefix(2)
        return UInt8(String(decoding: digits, as: UTF8.self), radix: 16)
    }
}
