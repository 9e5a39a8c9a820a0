/// Finds the added tokens (`[CLS]`, `[SEP]`, `[MASK]`, …) written literally in
/// raw, not yet normalized text, the way the `tokenizers` added vocabulary
/// does for tokens with `normalized: false`:
///
/// - matches are case-sensitive and leftmost-longest, and need no spaces
///   around them: `"a[MASK]b"` is `a`, `[MASK]`, `b`;
/// - `single_word` tokens only count when no word character (letter, mark,
///   digit, connector punctuation) touches them; a rejected match is skipped
///   as a whole;
/// - `lstrip` / `rstrip` tokens swallow the whitespace before / after them.
struct AddedTokenMatcher: Sendable {
    enum Segment {
        /// Text between matches, to be normalized and tokenized.
        case text(Range<Int>)
        /// A matched added token.
        case addedToken(Int32)
    }

    private struct Entry: Sendable {
        var scalars: [UInt32]
        var token: TokenizerConfiguration.AddedToken
    }

    /// Entries sorted longest first, so the first hit at a position is the longest.
    private let entries: [Entry]
    /// Bit i set: some token starts with ASCII scalar i (fast rejection).
    private let asciiFirst: (UInt64, UInt64)
    /// Some token starts with a non-ASCII scalar.
    private let hasNonASCIIFirst: Bool
    private let idsByContent: [String: Int32]
    private let contentByID: [Int32: String]

    init(_ tokens: [TokenizerConfiguration.AddedToken]) {
        entries = tokens
            .map { Entry(scalars: $0.content.unicodeScalars.map(\.value), token: $0) }
            .filter { !$0.scalars.isEmpty }
            .sorted { $0.scalars.count > $1.scalars.count }
        var low: UInt64 = 0, high: UInt64 = 0, nonASCII = false
        for entry in entries {
            let first = entry.scalars[0]
            if first < 64 { low |= 1 << first } else if first < 128 { high |= 1 << (first - 64) } else { nonASCII = true }
        }
        asciiFirst = (low, high)
        hasNonASCIIFirst = nonASCII
        idsByContent = Dictionary(tokens.map { ($0.content, $0.id) }, uniquingKeysWith: { _, last in last })
        contentByID = Dictionary(tokens.map { ($0.id, $0.content) }, uniquingKeysWith: { _, last in last })
    }

    func id(for content: String) -> Int32? { idsByContent[content] }
    func content(for id: Int32) -> String? { contentByID[id] }

    @inline(__always)
    private func mayStart(_ value: UInt32) -> Bool {
        if value < 64 { return asciiFirst.0 & (1 << value) != 0 }
        if value < 128 { return asciiFirst.1 & (1 << (value - 64)) != 0 }
        return hasNonASCIIFirst
    }

    /// Calls `body` with the segments of `text` in order, until `body` returns
    /// false. Empty text segments are not reported.
    ///
    /// Complexity: O(n × k) where k is the number of added tokens starting
    /// with a given scalar (a handful); O(n) with one comparison per scalar
    /// for text without `[`.
    func split(_ text: UnsafeBufferPointer<UInt32>, _ body: (Segment) -> Bool) {
        if entries.isEmpty {
            if !text.isEmpty { _ = body(.text(0..<text.count)) }
            return
        }
        // Sound: every index into `text` is checked against `text.count` (or is `position`,
        // `start - 1 ≥ 0`, or inside a match that `longestEntry` found within the text).
        var segmentStart = 0  // end of the previous match, as stripped
        var position = 0
        while position < text.count {
            guard unsafe mayStart(text[position]), let entry = unsafe longestEntry(in: text, at: position) else {
                position += 1
                continue
            }
            var start = position
            var end = position + entry.scalars.count
            position = end
            if entry.token.singleWord {
                let wordBefore = unsafe start > 0 && Self.isWordCharacter(text[start - 1])
                let wordAfter = unsafe end < text.count && Self.isWordCharacter(text[end])
                if wordBefore || wordAfter { continue }
            }
            if entry.token.leftStrip {
                while start > segmentStart, unsafe BertCharacters.isWhitespace(text[start - 1]) { start -= 1 }
            }
            if entry.token.rightStrip {
                while end < text.count, unsafe BertCharacters.isWhitespace(text[end]) { end += 1 }
                position = end
            }
            if segmentStart < start, !body(.text(segmentStart..<start)) { return }
            if !body(.addedToken(entry.token.id)) { return }
            segmentStart = end
        }
        if segmentStart < text.count { _ = body(.text(segmentStart..<text.count)) }
    }

    private func longestEntry(in text: UnsafeBufferPointer<UInt32>, at position: Int) -> Entry? {
        let available = text.count - position
        // Sound: only entries of at most `available` scalars are compared.
        for entry in entries where entry.scalars.count <= available {
            var matches = true
            for (offset, value) in entry.scalars.enumerated() where unsafe text[position + offset] != value {
                matches = false
                break
            }
            if matches { return entry }
        }
        return nil
    }

    /// `\w` of Rust's regex crate: alphabetic, marks, decimal digits,
    /// connector punctuation, and the join controls.
    private static func isWordCharacter(_ value: UInt32) -> Bool {
        guard let scalar = Unicode.Scalar(value) else { return false }
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return true
        default:
            return false
        }
    }
}
