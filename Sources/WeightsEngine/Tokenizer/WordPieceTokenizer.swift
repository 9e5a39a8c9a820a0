import WeightsCore

/// The BERT WordPiece tokenizer, reproducing the Hugging Face `tokenizers`
/// pipeline `BertNormalizer` → `BertPreTokenizer` → `WordPiece` →
/// `TemplateProcessing` id for id (checked against
/// sentence-transformers/all-MiniLM-L6-v2 in the tests).
///
/// For an input string it:
/// 1. splits off the special tokens written literally in the text (`[CLS]`,
///    `[SEP]`, `[MASK]`, `[PAD]`, `[UNK]`; case-sensitive, before
///    normalization, as the `added_tokens` of `tokenizer.json` say), each of
///    which becomes its own id;
/// 2. normalizes the rest: removes control characters, NUL and U+FFFD, maps
///    whitespace to spaces, isolates CJK ideographs, strips accents (NFD, then
///    drops nonspacing marks) and lowercases;
/// 3. splits on whitespace and isolates every punctuation character;
/// 4. cuts each word into the longest vocabulary pieces, left to right, with
///    `##` marking pieces that continue a word; a word of more than 100
///    scalars, or one that cannot be covered, becomes a single `[UNK]`;
/// 5. keeps at most `maximumLength - 2` of those ids and wraps them as
///    `[CLS] … [SEP]`.
///
/// ```swift
/// let tokenizer = try WordPieceTokenizer(modelDirectory: "all-MiniLM-L6-v2")
/// tokenizer.encode("Héllo, world!").ids      // [101, 7592, 1010, 2088, 999, 102]
/// tokenizer.tokens("unbelievably")           // ["[CLS]", "un", "##bel", "##ie", "##va", "##bly", "[SEP]"]
/// let batch = tokenizer.encodeBatch(["a", "a b c"])
/// batch.sequenceLength                       // 5
/// batch.attentionMask                        // [1, 1, 1, 0, 0,  1, 1, 1, 1, 1]
/// ```
///
/// The tokenizer is an immutable value: share it freely between tasks.
/// Encoding is O(n) in the length of the text (each word is matched against a
/// trie of the vocabulary, one hash probe per scalar) and allocates only the
/// result and a few scratch buffers, never a `String` per word or character.
/// In an optimized build a 128-token English sentence takes about 5 µs.
public struct WordPieceTokenizer: Sendable {
    /// The maximum sequence length used when none is given:
    /// all-MiniLM-L6-v2's `max_seq_length` from `sentence_bert_config.json`
    /// (its `tokenizer.json` says 128, but sentence-transformers uses 256).
    public static let defaultMaximumLength = 256

    /// The length, special tokens included, at which ``encode(_:)`` truncates.
    public let maximumLength: Int

    /// The id used for padding in ``encodeBatch(_:)`` (`[PAD]`, 0 for this model).
    public let paddingID: Int32
    /// The id of the unknown token (`[UNK]`, 100 for this model).
    public let unknownID: Int32

    let vocabulary: WordPieceVocabulary
    let normalizer: BertNormalizer?
    let addedTokens: AddedTokenMatcher
    let maxInputCharsPerWord: Int
    let prefixIDs: [Int32]
    let suffixIDs: [Int32]

    // MARK: Creating a tokenizer

    /// Loads a tokenizer from a Hugging Face `tokenizer.json`.
    ///
    /// The file must describe a `WordPiece` model with a `BertNormalizer` (or
    /// none), a `BertPreTokenizer` and a `TemplateProcessing` or
    /// `BertProcessing` post-processor (or none). Its `truncation` and
    /// `padding` settings are not used; the length limit is `maximumLength`.
    ///
    /// - Parameters:
    ///   - tokenizerJSON: the path of the `tokenizer.json` file.
    ///   - maximumLength: default truncation length, special tokens included.
    /// - Throws: `WeightsError` naming the file: `io` when it cannot be read,
    ///   `invalidArgument` when it is not valid JSON of the expected shape or its vocabulary
    ///   lacks the unknown token or a template's special token, `unsupportedFormat` for an
    ///   unsupported component; `invalidArgument` when `maximumLength` leaves no room for the
    ///   template's special tokens (2 for BERT).
    /// - Complexity: O(file size); about 10 ms for MiniLM's 30,522-token
    ///   vocabulary in an optimized build.
    public init(tokenizerJSON: String, maximumLength: Int = WordPieceTokenizer.defaultMaximumLength) throws {
        try self.init(configuration: TokenizerConfiguration(tokenizerJSON: tokenizerJSON), maximumLength: maximumLength)
    }

    /// Builds an uncased (or cased) BERT tokenizer from a `vocab.txt`: one
    /// token per line, the line number being the id.
    ///
    /// This gives the same ids as the `tokenizer.json` of a BERT uncased model
    /// such as all-MiniLM-L6-v2 when `lowercase` is true.
    ///
    /// - Parameters:
    ///   - vocabulary: the path of the `vocab.txt` file; it must contain `[UNK]`, `[CLS]` and
    ///     `[SEP]`.
    ///   - lowercase: lowercase and strip accents (uncased models) or neither (cased models).
    ///   - maximumLength: default truncation length, special tokens included.
    /// - Throws: `WeightsError` naming the file; `invalidArgument` when `maximumLength` is
    ///   less than 2.
    /// - Complexity: O(file size).
    public init(
        vocabulary: String, lowercase: Bool = true, maximumLength: Int = WordPieceTokenizer.defaultMaximumLength
    ) throws {
        try self.init(configuration: TokenizerConfiguration(vocabularyText: vocabulary, lowercase: lowercase),
                      maximumLength: maximumLength)
    }

    /// Loads the tokenizer of a sentence-transformers model directory: its
    /// `tokenizer.json`, or its `vocab.txt` when there is no `tokenizer.json`
    /// (then lowercasing follows `do_lower_case` of `tokenizer_config.json`,
    /// true if absent, and `special_tokens_map.json`, where present, names the
    /// special tokens). The default maximum length is `max_seq_length` from
    /// `sentence_bert_config.json` when that file exists, else
    /// ``defaultMaximumLength``.
    ///
    /// - Throws: `WeightsError` naming the file at fault; `io` naming
    ///   `tokenizer.json` when neither tokenizer file exists; `invalidArgument` naming
    ///   `sentence_bert_config.json` when its `max_seq_length` leaves no room for the special
    ///   tokens.
    public init(modelDirectory: String) throws {
        try self.init(ModelDirectory(path: modelDirectory))
    }

    /// The tokenizer of `directory`, as ``init(modelDirectory:)`` describes.
    init(_ directory: ModelDirectory) throws {
        let configuration = try directory.tokenizerConfiguration()
        let maximumLength = directory.maximumSequenceLength ?? Self.defaultMaximumLength
        let specials = configuration.prefixIDs.count + configuration.suffixIDs.count
        guard maximumLength >= max(specials, 1) else {
            throw WeightsError(.invalidArgument,
                "max_seq_length \(maximumLength) leaves no room for the \(specials) special tokens",
                file: directory.sentenceConfigurationPath)
        }
        try self.init(configuration: configuration, maximumLength: maximumLength)
    }

    /// How many ids the template adds around every text (2 for BERT: `[CLS]`, `[SEP]`); the
    /// smallest usable length.
    public var specialTokenCount: Int { prefixIDs.count + suffixIDs.count }

    /// - Throws: `invalidArgument` when `maximumLength` leaves no room for the special tokens.
    init(configuration: TokenizerConfiguration, maximumLength: Int) throws {
        prefixIDs = configuration.prefixIDs
        suffixIDs = configuration.suffixIDs
        self.maximumLength = maximumLength
        vocabulary = WordPieceVocabulary(
            ids: configuration.vocabulary, continuingSubwordPrefix: configuration.continuingSubwordPrefix)
        normalizer = configuration.normalizer
        addedTokens = AddedTokenMatcher(configuration.addedTokens)
        maxInputCharsPerWord = configuration.maxInputCharsPerWord
        paddingID = configuration.paddingID
        unknownID = configuration.vocabulary[configuration.unknownToken]!
        try checkLength(maximumLength)
    }

    /// Refuses a length limit with no room for the template's special tokens, or for any token.
    private func checkLength(_ length: Int) throws {
        guard length >= max(specialTokenCount, 1) else {
            throw WeightsError(.invalidArgument,
                "maximumLength \(length) leaves no room for the \(specialTokenCount) special tokens")
        }
    }

    // MARK: Vocabulary

    /// The number of entries in the vocabulary (30,522 for this model).
    public var vocabularySize: Int { vocabulary.count }

    /// The id of a vocabulary entry or special token, e.g. `id(for: "[SEP]") == 102`.
    /// Continuation pieces are written with their prefix: `id(for: "##s")`.
    public func id(for token: String) -> Int32? {
        addedTokens.id(for: token) ?? vocabulary.ids[token]
    }

    /// The text of a token id, e.g. `token(for: 101) == "[CLS]"`; nil for an unused id.
    public func token(for id: Int32) -> String? {
        if let content = addedTokens.content(for: id) { return content }
        guard id >= 0, Int(id) < vocabulary.tokens.count else { return nil }
        let token = vocabulary.tokens[Int(id)]
        return token.isEmpty ? nil : token
    }

    // MARK: Encoding

    /// Tokenizes one text into model input ids, `[CLS] … [SEP]`, truncated so
    /// that the result has at most ``maximumLength`` ids.
    ///
    /// - Parameter text: any string; the empty string gives `[CLS] [SEP]`.
    /// - Complexity: O(n) in the length of `text`. Work stops at the first
    ///   word past the limit, so truncating a long document does not
    ///   tokenize all of it.
    public func encode(_ text: String) -> TokenizedText {
        encode(text, limit: maximumLength)
    }

    /// Tokenizes one text as ``encode(_:)`` does, truncated to at most `maximumLength` ids,
    /// special tokens included.
    ///
    /// - Throws: `invalidArgument` when `maximumLength` leaves no room for the special tokens
    ///   (is less than 2 for BERT).
    public func encode(_ text: String, maximumLength: Int) throws -> TokenizedText {
        try checkLength(maximumLength)
        return encode(text, limit: maximumLength)
    }

    /// Tokenizes several texts and pads them with ``paddingID`` to the length
    /// of the longest, for a `[batch, sequence]` model input.
    ///
    /// - Parameter texts: the texts; an empty array gives an empty batch.
    /// - Complexity: O(total length of the texts + batch × longest).
    public func encodeBatch(_ texts: [String]) -> TokenizedBatch {
        TokenizedBatch(texts.map { encode($0, limit: maximumLength) }, paddingID: paddingID)
    }

    /// Tokenizes several texts as ``encodeBatch(_:)`` does, each truncated to at most
    /// `maximumLength` ids.
    ///
    /// - Throws: `invalidArgument` when `maximumLength` leaves no room for the special tokens.
    public func encodeBatch(_ texts: [String], maximumLength: Int) throws -> TokenizedBatch {
        try checkLength(maximumLength)
        return TokenizedBatch(texts.map { encode($0, limit: maximumLength) }, paddingID: paddingID)
    }

    /// The token strings of ``encode(_:)``, for debugging:
    /// `tokens("Hello, world!") == ["[CLS]", "hello", ",", "world", "!", "[SEP]"]`.
    public func tokens(_ text: String) -> [String] {
        strings(encode(text, limit: maximumLength))
    }

    /// The token strings of ``encode(_:maximumLength:)``.
    ///
    /// - Throws: `invalidArgument` when `maximumLength` leaves no room for the special tokens.
    public func tokens(_ text: String, maximumLength: Int) throws -> [String] {
        try strings(encode(text, maximumLength: maximumLength))
    }

    private func strings(_ text: TokenizedText) -> [String] {
        text.ids.map { token(for: $0) ?? "<\($0)>" }
    }

    /// `text`'s ids, at most `limit` of them (which leaves room for the special tokens).
    private func encode(_ text: String, limit: Int) -> TokenizedText {
        var ids = prefixIDs
        ids.reserveCapacity(min(limit, text.utf8.count + specialTokenCount))
        let truncated = appendContentIDs(of: text, to: &ids, limit: limit - suffixIDs.count)
        ids.append(contentsOf: suffixIDs)
        return TokenizedText(ids: ids, wasTruncated: truncated)
    }

    /// Appends the ids of `text` (no special tokens from the template) until
    /// `ids` holds `limit` ids. Returns true if tokens were cut off.
    private func appendContentIDs(of text: String, to ids: inout [Int32], limit: Int) -> Bool {
        let input = Self.scalarValues(of: text)
        var normalized: [UInt32] = []
        normalized.reserveCapacity(input.count + 8)

        // Sound: the buffers are used only inside their closures; the split's ranges and the
        // chunk ends lie in `input` (chunkEnd never passes `range.upperBound`).
        return unsafe input.withUnsafeBufferPointer { input -> Bool in
            var truncated = false
            unsafe addedTokens.split(input) { segment in
                switch segment {
                case .addedToken(let id):
                    guard ids.count < limit else {
                        truncated = true
                        return false
                    }
                    ids.append(id)
                case .text(let range):
                    // Chunks end at whitespace that separates words, so a
                    // long text is only normalized as far as it is used.
                    var chunkStart = range.lowerBound
                    while chunkStart < range.upperBound {
                        let chunkEnd = unsafe chunkEnd(in: input, from: chunkStart, before: range.upperBound)
                        let chunk = unsafe UnsafeBufferPointer(rebasing: input[chunkStart..<chunkEnd])
                        normalized.removeAll(keepingCapacity: true)
                        if let normalizer {
                            unsafe normalizer.normalize(chunk, into: &normalized)
                        } else {
                            unsafe normalized.append(contentsOf: chunk)
                        }
                        truncated = unsafe normalized.withUnsafeBufferPointer {
                            unsafe appendWordPieces(of: $0, to: &ids, limit: limit)
                        }
                        if truncated { return false }
                        chunkStart = chunkEnd
                    }
                }
                return true
            }
            return truncated
        }
    }

    /// About how many scalars are normalized at a time.
    static let chunkLength = 1024

    /// Where the chunk of raw text that starts at `start` ends: just after
    /// the first word-separating whitespace at or past `start + chunkLength`,
    /// or at `end`. Whitespace that cleaning removes (vertical tab, form
    /// feed, U+0085) does not separate words and is not a valid cut.
    private func chunkEnd(in input: UnsafeBufferPointer<UInt32>, from start: Int, before end: Int) -> Int {
        var index = start + Self.chunkLength
        guard index < end else { return end }
        let cleans = normalizer?.cleanText ?? false
        // Sound: `index < end`, and `end` is inside `input`.
        while index < end {
            let value = unsafe input[index]
            index += 1
            if BertCharacters.isWhitespace(value) && !(cleans && BertCharacters.isRemovedByCleaning(value)) {
                return index
            }
        }
        return end
    }

    /// The Unicode scalar values of `text`, decoded straight from its UTF-8
    /// (a Swift string always holds valid UTF-8).
    static func scalarValues(of text: String) -> [UInt32] {
        var text = text
        // Sound: a String's UTF-8 is valid, so a lead byte is followed by its continuation
        // bytes inside `bytes`; there are at most as many scalars as bytes, the capacity.
        return text.withUTF8 { bytes -> [UInt32] in
            unsafe [UInt32](unsafeUninitializedCapacity: bytes.count) { values, count in
                var index = 0
                count = 0
                while index < bytes.count {
                    let lead = unsafe UInt32(bytes[index])
                    let value: UInt32
                    if lead < 0x80 {
                        value = lead
                        index += 1
                    } else if lead < 0xE0 {
                        value = unsafe (lead & 0x1F) << 6 | UInt32(bytes[index + 1] & 0x3F)
                        index += 2
                    } else if lead < 0xF0 {
                        value = unsafe (lead & 0x0F) << 12 | UInt32(bytes[index + 1] & 0x3F) << 6
                            | UInt32(bytes[index + 2] & 0x3F)
                        index += 3
                    } else {
                        value = unsafe (lead & 0x07) << 18 | UInt32(bytes[index + 1] & 0x3F) << 12
                            | UInt32(bytes[index + 2] & 0x3F) << 6 | UInt32(bytes[index + 3] & 0x3F)
                        index += 4
                    }
                    unsafe values[count] = value
                    count += 1
                }
            }
        }
    }

    /// Pre-tokenizes normalized text (split on whitespace, isolate
    /// punctuation) and appends the WordPiece ids of each word. Returns true
    /// if it stopped because `ids` reached `limit` with words left over.
    private func appendWordPieces(of text: UnsafeBufferPointer<UInt32>, to ids: inout [Int32], limit: Int) -> Bool {
        var index = 0
        let count = text.count
        // Sound: every index is checked against `count`, and `word` is a slice inside `text`.
        while index < count {
            let value = unsafe text[index]
            if BertCharacters.isWhitespace(value) {
                index += 1
                continue
            }
            if ids.count >= limit { return true }
            var end = index + 1
            if !BertCharacters.isPunctuation(value) {
                while end < count, unsafe !BertCharacters.isWhitespace(text[end]), unsafe !BertCharacters.isPunctuation(text[end]) {
                    end += 1
                }
            }
            let word = unsafe UnsafeBufferPointer(rebasing: text[index..<end])
            if unsafe appendWordPieces(ofWord: word, to: &ids, limit: limit) { return true }
            index = end
        }
        return false
    }

    /// Greedy longest-match-first WordPiece for one word. Keeps at most
    /// `limit` ids in `ids`; returns true if pieces of the word were cut off.
    private func appendWordPieces(ofWord word: UnsafeBufferPointer<UInt32>, to ids: inout [Int32], limit: Int) -> Bool {
        if word.count > maxInputCharsPerWord {
            ids.append(unknownID)
            return false
        }
        let first = ids.count
        var start = 0
        while start < word.count {
            // Sound: `start < word.count`, and the vocabulary reads only inside `word`.
            guard let match = unsafe vocabulary.longestMatch(in: word, from: start, continuation: start > 0) else {
                // No piece covers the rest: the whole word is unknown.
                ids.removeSubrange(first...)
                ids.append(unknownID)
                return false
            }
            ids.append(match.id)
            start = match.end
        }
        guard ids.count > limit else { return false }
        ids.removeSubrange(limit...)
        return true
    }
}

/// The ids of one encoded text.
public struct TokenizedText: Sendable, Equatable {
    /// Token ids, special tokens included: `[CLS] … [SEP]`.
    public var ids: [Int32]
    /// True if the text had more tokens than the length limit allowed.
    public var wasTruncated: Bool

    public init(ids: [Int32], wasTruncated: Bool = false) {
        self.ids = ids
        self.wasTruncated = wasTruncated
    }

    /// The number of ids.
    public var count: Int { ids.count }
    /// The attention mask of an unpadded sequence: a 1 for every id.
    public var attentionMask: [Int32] { [Int32](repeating: 1, count: ids.count) }
}

/// Several encoded texts padded to a common length, stored row-major so that
/// they can be handed to a model as `[batchSize, sequenceLength]` tensors.
/// Token type ids, for BERT models that want them, are all zero.
public struct TokenizedBatch: Sendable, Equatable {
    /// The number of texts (rows).
    public let batchSize: Int
    /// The length of every row: the longest encoded text.
    public let sequenceLength: Int
    /// `batchSize × sequenceLength` ids, row-major, padded with the padding id.
    public let ids: [Int32]
    /// `batchSize × sequenceLength` values: 1 for a real token, 0 for padding.
    public let attentionMask: [Int32]
    /// The unpadded length of each row.
    public let lengths: [Int]

    /// Pads `texts` with `paddingID` to the longest of them.
    /// Complexity: O(batchSize × sequenceLength).
    public init(_ texts: [TokenizedText], paddingID: Int32) {
        batchSize = texts.count
        lengths = texts.map(\.count)
        let width = lengths.max() ?? 0
        sequenceLength = width
        var ids = [Int32](repeating: paddingID, count: texts.count * width)
        var mask = [Int32](repeating: 0, count: texts.count * width)
        for (row, text) in texts.enumerated() {
            let base = row * width
            for (column, id) in text.ids.enumerated() {
                ids[base + column] = id
                mask[base + column] = 1
            }
        }
        self.ids = ids
        attentionMask = mask
    }

    /// The padded ids of one row.
    public func ids(row: Int) -> ArraySlice<Int32> {
        ids[row * sequenceLength ..< (row + 1) * sequenceLength]
    }

    /// The attention mask of one row.
    public func attentionMask(row: Int) -> ArraySlice<Int32> {
        attentionMask[row * sequenceLength ..< (row + 1) * sequenceLength]
    }
}
