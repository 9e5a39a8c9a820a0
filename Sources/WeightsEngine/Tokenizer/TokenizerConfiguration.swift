import Foundation
import Weights

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
    /// Complexity: O(file size).
    static func load(tokenizerJSON url: URL) throws(TokenizerError) -> TokenizerConfiguration {
        let data = try readFile(url)
        // A Result carries the typed error out of `withUnsafeBytes`, which rethrows untyped errors.
        let parsed = data.withUnsafeBytes { bytes in
            Result { () throws(TokenizerError) in try TokenizerFile(bytes, url: url) }
        }
        let file = try parsed.get()

        let model = file.model
        if let type = model.type, type != "WordPiece" {
            throw .unsupported(url, feature: "model type \"\(type)\" (only WordPiece is implemented)")
        }
        let vocabulary = model.vocab
        if vocabulary.isEmpty { throw .invalidVocabulary(url, reason: "the vocabulary is empty") }

        var configuration = TokenizerConfiguration(vocabulary: vocabulary, unknownToken: model.unkToken ?? "[UNK]")
        guard vocabulary[configuration.unknownToken] != nil else {
            throw .missingToken(url, token: configuration.unknownToken)
        }
        if let prefix = model.continuingSubwordPrefix { configuration.continuingSubwordPrefix = prefix }
        if let limit = model.maxInputCharsPerWord { configuration.maxInputCharsPerWord = limit }

        if let normalizer = file.normalizer {
            guard normalizer.type == "BertNormalizer" else {
                throw .unsupported(url, feature: "normalizer \"\(normalizer.type)\" (only BertNormalizer is implemented)")
            }
            if normalizer.separateNumbers == true {
                throw .unsupported(url, feature: "BertNormalizer.separate_numbers")
            }
            let lowercase = normalizer.lowercase ?? true
            configuration.normalizer = BertNormalizer(
                cleanText: normalizer.cleanText ?? true,
                handleChineseChars: normalizer.handleChineseChars ?? true,
                stripAccents: normalizer.stripAccents ?? lowercase,
                lowercase: lowercase)
        }

        guard let preTokenizer = file.preTokenizer else {
            throw .unsupported(url, feature: "no pre_tokenizer (only BertPreTokenizer is implemented)")
        }
        guard preTokenizer == "BertPreTokenizer" else {
            throw .unsupported(url, feature: "pre_tokenizer \"\(preTokenizer)\" (only BertPreTokenizer is implemented)")
        }

        var addedIDs: [String: Int32] = [:]
        for token in file.addedTokens ?? [] {
            guard let id = Int32(exactly: token.id), id >= 0 else {
                throw .invalidVocabulary(url, reason: "added token \"\(token.content)\" has id \(token.id)")
            }
            guard !token.content.isEmpty else {
                throw .invalidVocabulary(url, reason: "added token \(token.id) is empty")
            }
            if token.normalized ?? !(token.special ?? false) {
                throw .unsupported(url, feature: "added token \"\(token.content)\" with normalized: true")
            }
            addedIDs[token.content] = id
            configuration.addedTokens.append(AddedToken(
                content: token.content, id: id, singleWord: token.singleWord ?? false,
                leftStrip: token.lstrip ?? false, rightStrip: token.rstrip ?? false))
        }

        func requireKnown(_ token: String) throws(TokenizerError) {
            if vocabulary[token] == nil && addedIDs[token] == nil { throw .missingToken(url, token: token) }
        }
        if let processor = file.postProcessor {
            switch processor.type {
            case "TemplateProcessing":
                guard let single = processor.single else {
                    throw .invalidJSON(url, reason: "TemplateProcessing without a \"single\" template")
                }
                var seenSequence = false
                for piece in single {
                    if let special = piece.specialToken {
                        try requireKnown(special)
                        guard let ids = processor.specialTokens?[special] else {
                            throw .invalidJSON(url, reason: "template token \"\(special)\" is not in special_tokens")
                        }
                        for id in ids {
                            guard let id32 = Int32(exactly: id), id32 >= 0 else {
                                throw .invalidVocabulary(url, reason: "special token \"\(special)\" has id \(id)")
                            }
                            if seenSequence { configuration.suffixIDs.append(id32) } else { configuration.prefixIDs.append(id32) }
                        }
                    } else if piece.isSequence {
                        if seenSequence {
                            throw .unsupported(url, feature: "a single-sequence template that repeats the sequence")
                        }
                        seenSequence = true
                    } else {
                        throw .invalidJSON(url, reason: "template piece is neither SpecialToken nor Sequence")
                    }
                }
                guard seenSequence else {
                    throw .invalidJSON(url, reason: "the single-sequence template has no Sequence")
                }
            case "BertProcessing":
                guard let cls = processor.cls, let sep = processor.sep,
                      let clsID = Int32(exactly: cls.id), let sepID = Int32(exactly: sep.id) else {
                    throw .invalidJSON(url, reason: "BertProcessing without cls and sep")
                }
                try requireKnown(cls.token)
                try requireKnown(sep.token)
                configuration.prefixIDs = [clsID]
                configuration.suffixIDs = [sepID]
            default:
                throw .unsupported(url, feature: "post_processor \"\(processor.type)\"")
            }
        }

        configuration.paddingID = file.padID.flatMap { Int32(exactly: $0) }
            ?? vocabulary["[PAD]"] ?? 0
        return configuration
    }
}

// MARK: - vocab.txt

extension TokenizerConfiguration {
    /// Builds a BERT configuration from a `vocab.txt` (one token per line, the
    /// line number is the id, trailing whitespace ignored; a later duplicate
    /// wins, as in `tokenizers`). `[UNK]`, `[CLS]` and `[SEP]` must be in the
    /// file; `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]` and `[MASK]`, where present, are
    /// matched literally in the input text, as `BertTokenizerFast` does.
    ///
    /// Complexity: O(file size).
    static func load(vocabularyText url: URL, lowercase: Bool) throws(TokenizerError) -> TokenizerConfiguration {
        let data = try readFile(url)
        var vocabulary: [String: Int32] = [:]
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }  // a final newline ends the last line
        for (lineNumber, line) in lines.enumerated() {
            guard var scalars = String(data: Data(line), encoding: .utf8)?.unicodeScalars else {
                throw .unreadable(url, reason: "line \(lineNumber + 1) is not UTF-8 text")
            }
            while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
            vocabulary[String(scalars)] = Int32(lineNumber)
        }
        if vocabulary.isEmpty { throw .invalidVocabulary(url, reason: "the file has no tokens") }
        for required in ["[UNK]", "[CLS]", "[SEP]"] where vocabulary[required] == nil {
            throw .missingToken(url, token: required)
        }
        var configuration = TokenizerConfiguration(vocabulary: vocabulary, unknownToken: "[UNK]")
        configuration.normalizer = BertNormalizer(
            cleanText: true, handleChineseChars: true, stripAccents: lowercase, lowercase: lowercase)
        configuration.addedTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { token in
            vocabulary[token].map { AddedToken(content: token, id: $0) }
        }
        configuration.prefixIDs = [vocabulary["[CLS]"]!]
        configuration.suffixIDs = [vocabulary["[SEP]"]!]
        configuration.paddingID = vocabulary["[PAD]"] ?? 0
        return configuration
    }

    static func readFile(_ url: URL) throws(TokenizerError) -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .fileNotFound(url)
        }
        if isDirectory.boolValue { throw .unreadable(url, reason: "it is a directory") }
        // Through a mapping: Data(contentsOf:) leaks its 4 KiB buffer when the file is empty
        // (FoundationEssentials in Swift 6.3.1; LeakSanitizer, fuzz target model-directory).
        do {
            return Data(try ModelFiles.read(url.path))
        } catch {
            throw .unreadable(url, reason: (error as? WeightsError)?.reason ?? "\(error)")
        }
    }
}
