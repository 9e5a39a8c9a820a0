import WeightsCore

/// Everything a ``WordPieceTokenizer`` needs, read from a `tokenizer.json`
/// (Hugging Face `tokenizers` format) or from a BERT `vocab.txt`.
struct TokenizerConfiguration: Sendable {
    /// A token matched in the raw text before normalization (the `added_tokens`
    /// of `tokenizer.json` with `normalized: false`).
    struct AddedToken: Sendable, Equatable {
        var content: String
        var id: Int32
        var singleWord = false
        var leftStrip = false
        var rightStrip = false
    }

    var vocabulary: [String: Int32]
    var unknownToken: String
    var continuingSubwordPrefix = "##"
    var maxInputCharsPerWord = 100
    /// nil: the text is not normalized.
    var normalizer: BertNormalizer?
    var addedTokens: [AddedToken] = []
    /// Ids the post-processor puts before and after the sequence.
    var prefixIDs: [Int32] = []
    var suffixIDs: [Int32] = []
    var paddingID: Int32 = 0
}

// MARK: - tokenizer.json

extension TokenizerConfiguration {
    /// Reads a `tokenizer.json` with a `WordPiece` model, a `BertNormalizer`
    /// (or none), a `BertPreTokenizer`, and a `TemplateProcessing` or
    /// `BertProcessing` post-processor (or none). Its `truncation` and
    /// `padding` sections are ignored except for the padding id: the maximum
    /// length is the caller's choice.
    ///
    /// - Throws: `io` naming the file when it cannot be read; `invalidArgument` when it is
    ///   not the JSON expected or its vocabulary lacks a token it needs; `unsupportedFormat`
    ///   for a component other than those above.
    /// - Complexity: O(file size).
    init(tokenizerJSON path: String) throws {
        let storage = try ByteStorage.map(path: path)
        // Sound: the storage lives until the parse returns, and the parse keeps no pointer.
        let file = try withExtendedLifetime(storage) { unsafe try TokenizerFile(storage.bytes, path: path) }

        let model = file.model
        if let type = model.type, type != "WordPiece" {
            throw WeightsError.unsupportedTokenizer("model type \"\(type)\" (only WordPiece is implemented)", file: path)
        }
        let vocabulary = model.vocab
        if vocabulary.isEmpty { throw WeightsError.invalidVocabulary("the vocabulary is empty", file: path) }

        self.init(vocabulary: vocabulary, unknownToken: model.unkToken ?? "[UNK]")
        guard vocabulary[unknownToken] != nil else { throw WeightsError.missingToken(unknownToken, file: path) }
        if let prefix = model.continuingSubwordPrefix { continuingSubwordPrefix = prefix }
        if let limit = model.maxInputCharsPerWord { maxInputCharsPerWord = limit }

        if let normalizer = file.normalizer {
            guard normalizer.type == "BertNormalizer" else {
                throw WeightsError.unsupportedTokenizer("normalizer \"\(normalizer.type)\" (only BertNormalizer is implemented)",
                                            file: path)
            }
            if normalizer.separateNumbers == true {
                throw WeightsError.unsupportedTokenizer("BertNormalizer.separate_numbers", file: path)
            }
            let lowercase = normalizer.lowercase ?? true
            self.normalizer = BertNormalizer(
                cleanText: normalizer.cleanText ?? true,
                handleChineseChars: normalizer.handleChineseChars ?? true,
                stripAccents: normalizer.stripAccents ?? lowercase,
                lowercase: lowercase)
        }

        guard let preTokenizer = file.preTokenizer else {
            throw WeightsError.unsupportedTokenizer("no pre_tokenizer (only BertPreTokenizer is implemented)", file: path)
        }
        guard preTokenizer == "BertPreTokenizer" else {
            throw WeightsError.unsupportedTokenizer("pre_tokenizer \"\(preTokenizer)\" (only BertPreTokenizer is implemented)",
                                        file: path)
        }

        var addedIDs: [String: Int32] = [:]
        for token in file.addedTokens ?? [] {
            guard let id = Int32(exactly: token.id), id >= 0 else {
                throw WeightsError.invalidVocabulary("added token \"\(token.content)\" has id \(token.id)", file: path)
            }
            guard !token.content.isEmpty else {
                throw WeightsError.invalidVocabulary("added token \(token.id) is empty", file: path)
            }
            if token.normalized ?? !(token.special ?? false) {
                throw WeightsError.unsupportedTokenizer("added token \"\(token.content)\" with normalized: true", file: path)
            }
            addedIDs[token.content] = id
            addedTokens.append(AddedToken(
                content: token.content, id: id, singleWord: token.singleWord ?? false,
                leftStrip: token.lstrip ?? false, rightStrip: token.rstrip ?? false))
        }

        func requireKnown(_ token: String) throws {
            if vocabulary[token] == nil && addedIDs[token] == nil { throw WeightsError.missingToken(token, file: path) }
        }
        if let processor = file.postProcessor {
            switch processor.type {
            case "TemplateProcessing":
                guard let single = processor.single else {
                    throw WeightsError(.invalidArgument, "TemplateProcessing without a \"single\" template", file: path)
                }
                var seenSequence = false
                for piece in single {
                    if let special = piece.specialToken {
                        try requireKnown(special)
                        guard let ids = processor.specialTokens?[special] else {
                            throw WeightsError(.invalidArgument, "template token \"\(special)\" is not in special_tokens",
                                               file: path)
                        }
                        for id in ids {
                            guard let id32 = Int32(exactly: id), id32 >= 0 else {
                                throw WeightsError.invalidVocabulary("special token \"\(special)\" has id \(id)", file: path)
                            }
                            if seenSequence { suffixIDs.append(id32) } else { prefixIDs.append(id32) }
                        }
                    } else if piece.isSequence {
                        if seenSequence {
                            throw WeightsError.unsupportedTokenizer("a single-sequence template that repeats the sequence", file: path)
                        }
                        seenSequence = true
                    } else {
                        throw WeightsError(.invalidArgument, "template piece is neither SpecialToken nor Sequence", file: path)
                    }
                }
                guard seenSequence else {
                    throw WeightsError(.invalidArgument, "the single-sequence template has no Sequence", file: path)
                }
            case "BertProcessing":
                guard let cls = processor.cls, let sep = processor.sep,
                      let clsID = Int32(exactly: cls.id), let sepID = Int32(exactly: sep.id) else {
                    throw WeightsError(.invalidArgument, "BertProcessing without cls and sep", file: path)
                }
                try requireKnown(cls.token)
                try requireKnown(sep.token)
                prefixIDs = [clsID]
                suffixIDs = [sepID]
            default:
                throw WeightsError.unsupportedTokenizer("post_processor \"\(processor.type)\"", file: path)
            }
        }

        paddingID = file.padID.flatMap { Int32(exactly: $0) } ?? vocabulary["[PAD]"] ?? 0
    }
}

// MARK: - vocab.txt

extension TokenizerConfiguration {
    /// The names of a BERT vocabulary's special tokens: those of a
    /// `special_tokens_map.json`, else `[UNK]`, `[CLS]`, `[SEP]`, `[PAD]` and `[MASK]`.
    struct SpecialTokens: Sendable, Equatable {
        var unknown = "[UNK]"
        var classifier = "[CLS]"
        var separator = "[SEP]"
        var padding = "[PAD]"
        var mask = "[MASK]"

        init() {}

        /// The names `map` gives (each a string, or an object with its `content`), and the
        /// defaults for the others.
        ///
        /// - Throws: `invalidArgument` naming the file and the key for a value of another type.
        init(_ map: JSONField) throws {
            let map = try map.asObject()
            func name(_ key: String, _ fallback: String) throws -> String {
                let field = map[key]
                if field.value?.members != nil { return try field["content"].requiredString() }
                return try field.string() ?? fallback
            }
            unknown = try name("unk_token", unknown)
            classifier = try name("cls_token", classifier)
            separator = try name("sep_token", separator)
            padding = try name("pad_token", padding)
            mask = try name("mask_token", mask)
        }
    }

    /// Builds a BERT configuration from a `vocab.txt` (one token per line, the
    /// line number is the id, trailing whitespace ignored; a later duplicate
    /// wins, as in `tokenizers`). The unknown, classifier and separator tokens
    /// (`[UNK]`, `[CLS]`, `[SEP]` unless `specialTokens` names others) must be in
    /// the file; all five special tokens, where present, are matched literally
    /// in the input text, as `BertTokenizerFast` does.
    ///
    /// - Throws: `io` naming the file when it cannot be read; `invalidArgument` when a line
    ///   is not UTF-8, the file has no tokens, or lacks a required one.
    /// - Complexity: O(file size).
    init(vocabularyText path: String, lowercase: Bool, specialTokens: SpecialTokens = SpecialTokens()) throws {
        let storage = try ByteStorage.map(path: path)
        var vocabulary: [String: Int32] = [:]
        try withExtendedLifetime(storage) {
            // Sound: the lines are slices of the storage, read (copied into Strings) only while
            // it is kept alive here.
            var lines = unsafe storage.bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
            if unsafe lines.last?.isEmpty == true { unsafe lines.removeLast() }  // a final newline ends the last line
            for unsafe (lineNumber, line) in unsafe lines.enumerated() {
                guard var scalars = unsafe String(validating: line, as: UTF8.self)?.unicodeScalars else {
                    throw WeightsError(.invalidArgument, "line \(lineNumber + 1) is not UTF-8 text", file: path)
                }
                while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
                vocabulary[String(scalars)] = Int32(lineNumber)
            }
        }
        if vocabulary.isEmpty { throw WeightsError.invalidVocabulary("the file has no tokens", file: path) }
        let names = specialTokens
        for required in [names.unknown, names.classifier, names.separator] where vocabulary[required] == nil {
            throw WeightsError.missingToken(required, file: path)
        }
        self.init(vocabulary: vocabulary, unknownToken: names.unknown)
        normalizer = BertNormalizer(
            cleanText: true, handleChineseChars: true, stripAccents: lowercase, lowercase: lowercase)
        addedTokens = [names.padding, names.unknown, names.classifier, names.separator, names.mask].compactMap { token in
            vocabulary[token].map { AddedToken(content: token, id: $0) }
        }
        prefixIDs = [vocabulary[names.classifier]!]
        suffixIDs = [vocabulary[names.separator]!]
        paddingID = vocabulary[names.padding] ?? 0
    }
}

extension WeightsError {
    /// A tokenizer file asks for something this tokenizer does not implement, for example a
    /// `BPE` model or a `Metaspace` pre-tokenizer.
    static func unsupportedTokenizer(_ feature: String, file: String) -> WeightsError {
        WeightsError(.unsupportedFormat, "unsupported tokenizer configuration: \(feature)", file: file)
    }

    /// A token the tokenizer cannot work without (the unknown token, or a special token of
    /// the post-processor's template) is not in the vocabulary.
    static func missingToken(_ token: String, file: String) -> WeightsError {
        WeightsError(.invalidArgument, "the vocabulary has no entry for \"\(token)\"", file: file)
    }

    /// The vocabulary is empty or has an unusable entry (a negative id, an empty token).
    static func invalidVocabulary(_ reason: String, file: String) -> WeightsError {
        WeightsError(.invalidArgument, "invalid vocabulary: \(reason)", file: file)
    }
}
