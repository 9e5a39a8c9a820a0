import Foundation
import Testing
import WeightsCore
import WeightsEngine
import WeightsTestSupport

// MARK: - Against the reference

@Suite("Tokenizer: reference ids")
struct TokenizerReferenceTests {
    /// Every sentence of the sentence-transformers reference file, including
    /// the ones longer than 256 tokens, which must come out truncated.
    @Test func matchesSentenceTransformersInputIDs() throws {
        let tokenizer = try TokenizerTestSupport.tokenizer()
        let reference = try TokenizerTestSupport.decodeFixture(MiniLMReference.self, "minilm_embeddings.json")
        try #require(reference.sentences.count == reference.inputIDs.count)
        #expect(reference.inputIDs.contains { $0.count == 256 }, "the fixture should have a truncated sentence")
        for (sentence, expected) in zip(reference.sentences, reference.inputIDs) {
            let encoded = tokenizer.encode(sentence)
            #expect(encoded.ids == expected, "\(sentence.prefix(60))")
            #expect(encoded.wasTruncated == (expected.count == 256 && encoded.ids.count == 256))
        }
    }

    /// Tricky strings and seeded random strings run through the `tokenizers`
    /// library (see Fixtures/minilm/make_tokenizer_cases.py).
    @Test func matchesHuggingFaceTokenizersCases() throws {
        let tokenizer = try TokenizerTestSupport.tokenizer()
        let fixture = try TokenizerTestSupport.decodeFixture(TokenizerCases.self, "tokenizer_cases.json")
        #expect(fixture.cases.count > 200)
        for testCase in fixture.cases {
            let ids = try tokenizer.encode(testCase.text, maximumLength: fixture.maximumLength).ids
            #expect(ids == testCase.ids, "\(testCase.name)")
            if ids == testCase.ids {
                #expect(try tokenizer.tokens(testCase.text, maximumLength: fixture.maximumLength) == testCase.tokens,
                        "\(testCase.name)")
            }
        }
    }

    /// Texts of about 6,000 scalars, encoded without truncation: long texts
    /// are normalized in chunks, and these cross many chunk boundaries.
    @Test func matchesHuggingFaceOnLongTexts() throws {
        let tokenizer = try TokenizerTestSupport.tokenizer()
        let fixture = try TokenizerTestSupport.decodeFixture(TokenizerCases.self, "tokenizer_cases.json")
        #expect(!fixture.longCases.isEmpty)
        for testCase in fixture.longCases {
            #expect(testCase.text.unicodeScalars.count > 4 * 1024, "longer than four normalization chunks of 1024 scalars")
            let encoded = try tokenizer.encode(testCase.text, maximumLength: Int.max)
            #expect(encoded.ids == testCase.ids, "\(testCase.name)")
            #expect(!encoded.wasTruncated)
        }
    }

    /// The tokenizer built from `vocab.txt` gives the same ids as the one
    /// built from `tokenizer.json`.
    @Test func vocabularyFileGivesTheSameIDs() throws {
        let fromJSON = try TokenizerTestSupport.tokenizer()
        let fromVocabulary = try TokenizerTestSupport.vocabularyTokenizer()
        #expect(fromVocabulary.vocabularySize == fromJSON.vocabularySize)
        let fixture = try TokenizerTestSupport.decodeFixture(TokenizerCases.self, "tokenizer_cases.json")
        let reference = try TokenizerTestSupport.decodeFixture(MiniLMReference.self, "minilm_embeddings.json")
        for text in fixture.cases.map(\.text) + reference.sentences {
            #expect(fromVocabulary.encode(text).ids == fromJSON.encode(text).ids, "\(text.prefix(60))")
        }
    }

    /// A made-up tokenizer.json whose added tokens use single_word, lstrip and
    /// rstrip, with a BertProcessing post-processor.
    @Test func addedTokenFlagsMatchHuggingFace() throws {
        let tokenizer = try WordPieceTokenizer(
            tokenizerJSON: TokenizerTestSupport.fixture("added_tokens_tokenizer.json"))
        let fixture = try TokenizerTestSupport.decodeFixture(TokenizerCases.self, "tokenizer_cases.json")
        #expect(!fixture.addedTokenCases.isEmpty)
        for testCase in fixture.addedTokenCases {
            #expect(tokenizer.encode(testCase.text).ids == testCase.ids, "\(testCase.name)")
        }
    }
}

// MARK: - Every code point

@Suite("Tokenizer: Unicode tables")
struct TokenizerUnicodeTableTests {
    /// Normalizes every Unicode scalar on its own and compares with what the
    /// reference normalizer made of it. The scalars are normalized in one
    /// string, separated by "|", which nothing normalizes into or reorders across.
    @Test func normalizerAgreesOnEveryScalar() throws {
        let table = try TokenizerTestSupport.decodeFixture(UnicodeTable.self, "unicode_table.json")
        var mapped: [UInt32: String] = [:]
        for entry in table.mapped { mapped[entry.codePoint] = entry.text }

        var scalars: [Unicode.Scalar] = []
        var input = String.UnicodeScalarView()
        for value in UInt32(0)...0x10FFFF where value != 0x7C {
            guard let scalar = Unicode.Scalar(value) else { continue }
            scalars.append(scalar)
            input.append(scalar)
            input.append("|")
        }
        let normalizer = BertNormalizer(cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true)
        let pieces = normalizer.normalize(String(input)).unicodeScalars.split(separator: "|", omittingEmptySubsequences: false)
        try #require(pieces.count == scalars.count + 1)

        var mismatches: [String] = []
        for (scalar, piece) in zip(scalars, pieces) {
            let value = scalar.value
            let expected: String?
            if UnicodeTable.contains(table.removed, value) {
                expected = ""
            } else if UnicodeTable.contains(table.whitespace, value) {
                expected = " "
            } else if UnicodeTable.contains(table.isolated, value) {
                expected = " \(scalar) "
            } else if let text = mapped[value] {
                expected = text
            } else if UnicodeTable.contains(table.sampled, value) {
                expected = nil
            } else {
                expected = String(scalar)
            }
            let actual = String(String.UnicodeScalarView(piece))
            if let expected, actual != expected {
                mismatches.append(String(format: "U+%04X", value) + " \(Self.escaped(actual)) != \(Self.escaped(expected))")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) scalars differ: \(mismatches.prefix(40).joined(separator: ", "))")
        #expect(normalizer.normalize("|") == "|")
    }

    @Test func punctuationAgreesOnEveryScalar() throws {
        let table = try TokenizerTestSupport.decodeFixture(UnicodeTable.self, "unicode_table.json")
        var mismatches: [String] = []
        for value in UInt32(0)...0x10FFFF where Unicode.Scalar(value) != nil {
            if BertCharacters.isPunctuation(value) != UnicodeTable.contains(table.punctuation, value) {
                mismatches.append(String(format: "U+%04X", value))
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) scalars differ: \(mismatches.prefix(40).joined(separator: ", "))")
    }

    private static func escaped(_ text: String) -> String {
        "\"" + text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : String(format: "\\u{%X}", $0.value) }.joined() + "\""
    }
}

// MARK: - One test per rule

@Suite("Tokenizer: rules")
struct TokenizerRuleTests {
    let tokenizer: WordPieceTokenizer
    init() throws { tokenizer = try TokenizerTestSupport.tokenizer() }

    @Test func accentsAreStripped() {
        #expect(tokenizer.tokens("Café naïve RÉSUMÉ") == ["[CLS]", "cafe", "naive", "resume", "[SEP]"])
        // Decomposed input gives the same result as precomposed input.
        #expect(tokenizer.encode("cafe\u{301}").ids == tokenizer.encode("caf\u{E9}").ids)
    }

    @Test func cjkIdeographsAreSeparateWords() {
        #expect(tokenizer.tokens("東京abc") == ["[CLS]", "東", "京", "abc", "[SEP]"])
        // Hiragana is not in the CJK ideograph ranges: it stays one word.
        #expect(tokenizer.tokens("ひらがな") == ["[CLS]", "ひ", "##ら", "##か", "##な", "[SEP]"])
    }

    @Test func punctuationIsSplitOff() {
        #expect(tokenizer.tokens("hello,world!(ok)") == ["[CLS]", "hello", ",", "world", "!", "(", "ok", ")", "[SEP]"])
        // ASCII symbols count as punctuation for BERT, and so does Unicode P*.
        #expect(tokenizer.tokens("a$b¿c") == ["[CLS]", "a", "$", "b", "¿", "c", "[SEP]"])
    }

    @Test func controlCharactersAreRemovedAndWhitespaceSplits() {
        #expect(tokenizer.tokens("he\u{0}l\u{7}lo\u{FFFD} wo\u{200D}rld") == ["[CLS]", "hello", "world", "[SEP]"])
        #expect(tokenizer.tokens("a\tb\nc\r\nd\u{3000}e") == ["[CLS]", "a", "b", "c", "d", "e", "[SEP]"])
    }

    @Test func continuationPiecesUseThePrefix() {
        #expect(tokenizer.tokens("unbelievably") == ["[CLS]", "un", "##bel", "##ie", "##va", "##bly", "[SEP]"])
        #expect(tokenizer.id(for: "##bly") != nil)
    }

    @Test func wordsLongerThan100ScalarsAreUnknown() {
        let hundred = tokenizer.encode(String(repeating: "a", count: 100)).ids
        #expect(hundred.count > 3 && !hundred.contains(100))
        #expect(tokenizer.encode(String(repeating: "a", count: 101)).ids == [101, 100, 102])
        // The limit applies after accent stripping: 120 scalars in, 60 out.
        #expect(!tokenizer.encode(String(repeating: "e\u{301}", count: 60)).ids.contains(100))
    }

    @Test func unknownCharacterMakesTheWholeWordUnknown() {
        #expect(tokenizer.tokens("abc☃def dog") == ["[CLS]", "[UNK]", "dog", "[SEP]"])
        #expect(tokenizer.tokens("😀") == ["[CLS]", "[UNK]", "[SEP]"])
    }

    @Test func literalSpecialTokensBecomeTheirIDs() {
        #expect(tokenizer.encode("first [SEP] second").ids == [101, 2034, 102, 2117, 102])
        #expect(tokenizer.tokens("a[MASK]b") == ["[CLS]", "a", "[MASK]", "b", "[SEP]"])
        // Matching is case-sensitive and happens before lowercasing.
        #expect(tokenizer.tokens("[mask]") == ["[CLS]", "[", "mask", "]", "[SEP]"])
        #expect(tokenizer.id(for: "[MASK]") == 103)
        #expect(tokenizer.token(for: 102) == "[SEP]")
    }

    @Test func emptyStringIsJustTheSpecialTokens() {
        let encoded = tokenizer.encode("")
        #expect(encoded.ids == [101, 102])
        #expect(encoded.attentionMask == [1, 1])
        #expect(!encoded.wasTruncated)
        #expect(tokenizer.encode(" \t\u{0}\n ").ids == [101, 102])
    }

    @Test func truncationKeepsTheSpecialTokens() throws {
        let long = String(repeating: "word ", count: 300)
        let encoded = tokenizer.encode(long)
        #expect(encoded.count == WordPieceTokenizer.defaultMaximumLength)
        #expect(encoded.ids.first == 101 && encoded.ids.last == 102)
        #expect(encoded.wasTruncated)

        let short = try tokenizer.encode("a b c d e", maximumLength: 5)
        #expect(short.ids == [101, 1037, 1038, 1039, 102])
        #expect(short.wasTruncated)
        #expect(try !tokenizer.encode("a b c", maximumLength: 5).wasTruncated)
        // Cutting inside a word's pieces: "unbelievably" has 5 pieces.
        #expect(try tokenizer.tokens("unbelievably", maximumLength: 4) == ["[CLS]", "un", "##bel", "[SEP]"])
        #expect(try tokenizer.encode("anything", maximumLength: 2).ids == [101, 102])
    }

    @Test func maximumLengthComesFromTheModelDirectory() throws {
        #expect(tokenizer.maximumLength == 256)
        #expect(tokenizer.vocabularySize == 30522)
        #expect(tokenizer.paddingID == 0)
        #expect(tokenizer.unknownID == 100)
    }

    @Test func batchIsPaddedToTheLongest() throws {
        let batch = tokenizer.encodeBatch(["a", "a b c", ""])
        #expect(batch.batchSize == 3)
        #expect(batch.sequenceLength == 5)
        #expect(batch.lengths == [3, 5, 2])
        #expect(batch.ids == [
            101, 1037, 102, 0, 0,
            101, 1037, 1038, 1039, 102,
            101, 102, 0, 0, 0,
        ])
        #expect(batch.attentionMask == [
            1, 1, 1, 0, 0,
            1, 1, 1, 1, 1,
            1, 1, 0, 0, 0,
        ])
        #expect(Array(batch.ids(row: 1)) == [101, 1037, 1038, 1039, 102])
        #expect(Array(batch.attentionMask(row: 2)) == [1, 1, 0, 0, 0])

        let empty = tokenizer.encodeBatch([])
        #expect(empty.batchSize == 0 && empty.sequenceLength == 0 && empty.ids.isEmpty)

        let truncated = try tokenizer.encodeBatch([String(repeating: "x ", count: 10), "y"], maximumLength: 4)
        #expect(truncated.ids == [101, 1060, 1060, 102, 101, 1061, 102, 0])
    }

    @Test func tokenizerIsUsableFromManyTasks() async {
        let tokenizer = tokenizer
        let results = await withTaskGroup(of: [Int32].self) { group in
            for _ in 0..<8 { group.addTask { tokenizer.encode("The quick brown fox.").ids } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results).count == 1)
    }
}

// MARK: - Model directories

@Suite("Tokenizer: model directory")
struct TokenizerModelDirectoryTests {
    /// A directory holding `files` (name: contents), removed by the caller.
    private func directory(_ files: [String: String]) throws -> String {
        let directory = try temporaryDirectory(prefix: "weights-tokenizer-tests")
        for (name, text) in files {
            try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        return directory
    }

    private static let vocabulary = "<pad>\n<unk>\n<s>\n</s>\nhello\nHello\n[CLS]\n[SEP]\n[UNK]\n"

    /// Without `tokenizer.json`, `vocab.txt`'s special tokens are those `special_tokens_map.json`
    /// names, as strings or as objects with a `content`.
    @Test func specialTokensMapNamesTheSpecialTokens() throws {
        let map = """
            {"unk_token": "<unk>", "cls_token": "<s>", "sep_token": {"content": "</s>", "lstrip": false},
             "pad_token": "<pad>"}
            """
        let path = try directory(["vocab.txt": Self.vocabulary, "special_tokens_map.json": map])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tokenizer = try WordPieceTokenizer(modelDirectory: path)
        #expect(tokenizer.encode("hello </s> 🙂").ids == [2, 4, 3, 1, 3])
        #expect(tokenizer.unknownID == 1 && tokenizer.paddingID == 0)
        // BERT's names are ordinary text here: "[CLS]" is split as punctuation and a word.
        #expect(!tokenizer.encode("[CLS]").ids.contains(6))
        // Without the map, BERT's names.
        try FileManager.default.removeItem(atPath: path + "/special_tokens_map.json")
        #expect(try WordPieceTokenizer(modelDirectory: path).encode("hello </s>").ids.first == 6)
    }

    @Test func specialTokensMapNamingAnAbsentTokenIsRefused() throws {
        let path = try directory(["vocab.txt": Self.vocabulary, "special_tokens_map.json": "{\"cls_token\": \"<cls>\"}"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(throws: WeightsError.self) { try WordPieceTokenizer(modelDirectory: path) }
        #expect(error.code == .invalidArgument)
        #expect(error.file == path + "/vocab.txt")
        #expect(error.reason == "the vocabulary has no entry for \"<cls>\"")
        try "{\"cls_token\": 3}".write(toFile: path + "/special_tokens_map.json", atomically: true, encoding: .utf8)
        let mistyped = try #require(throws: WeightsError.self) { try WordPieceTokenizer(modelDirectory: path) }
        #expect(mistyped.file == path + "/special_tokens_map.json")
        #expect(mistyped.reason == "unexpected value at cls_token: expected a string")
    }

    /// `do_lower_case` of `tokenizer_config.json` decides whether `vocab.txt` is used cased.
    @Test(arguments: [("{\"do_lower_case\": false}", Int32(5)), ("{\"do_lower_case\": true}", 4), ("{}", 4)])
    func lowercasingFollowsTokenizerConfig(config: String, id: Int32) throws {
        let path = try directory(["vocab.txt": Self.vocabulary, "tokenizer_config.json": config])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try WordPieceTokenizer(modelDirectory: path).encode("Hello").ids == [6, id, 7])
    }
}

// MARK: - Errors

@Suite("Tokenizer: errors")
struct TokenizerErrorTests {
    /// Writes `contents` to a file in a fresh directory and loads it; the error, which must
    /// name the file.
    private func load(_ contents: String, name: String = "tokenizer.json") throws -> WeightsError? {
        let directory = try temporaryDirectory(prefix: "weights-tokenizer-tests")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/" + name
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = name == "vocab.txt"
                ? try WordPieceTokenizer(vocabulary: path)
                : try WordPieceTokenizer(tokenizerJSON: path)
            return nil
        } catch let error as WeightsError {
            #expect(error.file == path)
            #expect(error.description.contains(path))
            return error
        }
    }

    /// `error` has `code` and a reason that contains `text`.
    private func check(_ error: WeightsError?, _ code: WeightsError.Code, _ text: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error else {
            Issue.record("expected \(code) (\(text)), got no error", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.reason.contains(text), "\(error)", sourceLocation: sourceLocation)
    }

    private static let minimalModel = """
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "a": 3}}
        """

    @Test func missingFile() throws {
        let path = "/nonexistent/weights/tokenizer.json"
        for load in [{ try WordPieceTokenizer(tokenizerJSON: path) }, { try WordPieceTokenizer(vocabulary: path) },
                     { try WordPieceTokenizer(modelDirectory: "/nonexistent/weights") }] {
            let error = try #require(throws: WeightsError.self) { try load() }
            #expect(error.code == .io)
            #expect(error.file == path)
            #expect(error.description.hasPrefix("/nonexistent/weights/tokenizer.json: cannot open: No such file"))
        }
    }

    @Test func malformedJSON() throws {
        check(try load("{\"model\": "), .invalidArgument, "malformed")
    }

    @Test func jsonWithoutModel() throws {
        check(try load("{\"normalizer\": null}"), .invalidArgument, "model")
    }

    private static let preTokenizer = "\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}"

    /// A file whose model section is `model`, with a BERT pre-tokenizer.
    private static func file(model: String, extra: String = "") -> String {
        "{\(preTokenizer), \(extra)\"model\": {\(model)}}"
    }

    @Test(arguments: [
        (file(model: "\"vocab\": {\"[UNK]\": 0, \"a\": -3}"), "\"a\" has a negative id"),
        (file(model: "\"vocab\": {\"[UNK]\": 0, \"a\": 4294967296}"), "\"a\" has id 4294967296"),
        (file(model: "\"vocab\": {\"[UNK]\": 0, \"a\": 1, \"a\": 2}"), "\"a\" appears twice"),
        // The id table has largest id + 1 slots: ids may not run 65,536 past the entry count.
        (file(model: "\"vocab\": {\"[UNK]\": 0, \"a\": 2000000000}"), "\"a\" at model.vocab has id 2000000000, beyond the 2 entries"),
        (file(model: "\"vocab\": {\"[UNK]\": 0, \"a\": 65538}"), "\"a\" at model.vocab has id 65538, beyond the 2 entries + 65536"),
    ])
    func badVocabularyEntry(json: String, reason: String) throws {
        check(try load(json), .invalidArgument, "invalid vocabulary: token " + reason)
    }

    @Test(arguments: [
        (file(model: "\"vocab\": {\"[UNK]\": 0}, \"unk_token\": 5"), "model.unk_token: expected a string"),
        (file(model: "\"vocab\": {\"[UNK]\": 0}, \"max_input_chars_per_word\": 1.5"),
         "model.max_input_chars_per_word: expected an integer"),
        (file(model: "\"vocab\": [\"[UNK]\"]"), "malformed JSON: expected '{'"),
        (file(model: "\"vocab\": {\"[UNK]\": 0.5}"), "malformed JSON: expected an integer"),
        (file(model: "\"type\": \"WordPiece\""), "missing key \"vocab\""),
        (file(model: "\"vocab\": {\"[UNK]\": 0}", extra: "\"normalizer\": {\"lowercase\": true}, "),
         "missing key \"type\" at normalizer"),
        (file(model: "\"vocab\": {\"[UNK]\": 0}", extra: "\"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": 1}, "),
         "normalizer.lowercase: expected true or false"),
        (file(model: "\"vocab\": {\"[UNK]\": 0}", extra: "\"added_tokens\": [{\"content\": \"[UNK]\"}], "),
         "missing key \"id\" at added_tokens.0"),
        (file(model: "\"vocab\": {\"[UNK]\": 0}", extra: "\"padding\": {\"pad_id\": \"0\"}, "),
         "padding.pad_id: expected an integer"),
        (file(model: "\"vocab\": {\"[UNK]\": 0}", extra: "\"post_processor\": {\"type\": \"BertProcessing\", \"cls\": [\"[CLS]\"]}, "),
         "post_processor.cls: expected [token, id]"),
        (file(model: "\"vocab\": {\"[UNK]\": 0}", extra: "\"padding\": null, \"padding\": null, "),
         "duplicate key \"padding\""),
        (file(model: "\"vocab\": {\"[UNK]\": 0}") + " x", "trailing characters after JSON at byte"),
        ("[]", "expected an object at byte 0"),
    ])
    func badShape(json: String, reason: String) throws {
        check(try load(json), .invalidArgument, reason)
    }

    @Test func nullFieldsReadAsAbsent() throws {
        let json = Self.file(model: "\"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"[SEP]\": 2}, \"unk_token\": null",
                        extra: "\"normalizer\": null, \"post_processor\": null, \"added_tokens\": null, \"padding\": null, ")
        #expect(try load(json) == nil)
    }

    @Test func vocabularyWithoutUnknownToken() throws {
        let json = """
            {"pre_tokenizer": {"type": "BertPreTokenizer"},
             "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"a": 0}}}
            """
        check(try load(json), .invalidArgument, "the vocabulary has no entry for \"[UNK]\"")
    }

    @Test func templateTokenMissingFromVocabulary() throws {
        let json = """
            {"pre_tokenizer": {"type": "BertPreTokenizer"},
             "post_processor": {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "[BOS]", "type_id": 0}}],
                "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]},
                                   "[BOS]": {"id": "[BOS]", "ids": [9], "tokens": ["[BOS]"]}}},
             \(Self.minimalModel)}
            """
        check(try load(json), .invalidArgument, "the vocabulary has no entry for \"[BOS]\"")
    }

    @Test func unsupportedComponents() throws {
        let bpe = """
            {"pre_tokenizer": {"type": "BertPreTokenizer"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}
            """
        let metaspace = "{\"pre_tokenizer\": {\"type\": \"Metaspace\"}, \(Self.minimalModel)}"
        let nfc = """
            {"normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "BertPreTokenizer"}, \(Self.minimalModel)}
            """
        for (json, feature) in [(bpe, "model type \"BPE\""), (metaspace, "pre_tokenizer \"Metaspace\""),
                                (nfc, "normalizer \"NFC\"")] {
            check(try load(json), .unsupportedFormat, "unsupported tokenizer configuration: " + feature)
        }
    }

    @Test func minimalValidFileLoads() throws {
        let json = "{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \(Self.minimalModel)}"
        #expect(try load(json) == nil)
    }

    /// A directory with a `vocab.txt` and a `sentence_bert_config.json` giving `length`.
    private func vocabularyDirectory(length: Int) throws -> String {
        let directory = try temporaryDirectory(prefix: "weights-tokenizer-tests")
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n".write(toFile: directory + "/vocab.txt", atomically: true, encoding: .utf8)
        try "{\"max_seq_length\": \(length)}".write(toFile: directory + "/sentence_bert_config.json",
                                                 atomically: true, encoding: .utf8)
        return directory
    }

    @Test(arguments: [1, 0, -5])
    func sequenceLengthWithoutRoomForSpecialTokens(length: Int) throws {
        let directory = try vocabularyDirectory(length: length)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = try #require(throws: WeightsError.self) { try WordPieceTokenizer(modelDirectory: directory) }
        #expect(error.code == .invalidArgument)
        #expect(error.file == directory + "/sentence_bert_config.json")
        #expect(error.reason == "max_seq_length \(length) leaves no room for the 2 special tokens")
        try "{\"max_seq_length\": 2}".write(toFile: directory + "/sentence_bert_config.json",
                                           atomically: true, encoding: .utf8)
        let tokenizer = try WordPieceTokenizer(modelDirectory: directory)
        #expect(tokenizer.specialTokenCount == 2)
        #expect(tokenizer.encode("a a").ids == [2, 3])
    }

    /// A length limit given in code that leaves no room for `[CLS]` and `[SEP]` is an error,
    /// not a trap: when the tokenizer is made, and when a text is encoded.
    @Test(arguments: [1, 0, -5, Int.min])
    func maximumLengthWithoutRoomForSpecialTokensIsRefused(length: Int) throws {
        let directory = try vocabularyDirectory(length: 8)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let vocabulary = directory + "/vocab.txt"
        let made = try #require(throws: WeightsError.self) {
            try WordPieceTokenizer(vocabulary: vocabulary, maximumLength: length)
        }
        #expect(made.code == .invalidArgument)
        #expect(made.reason == "maximumLength \(length) leaves no room for the 2 special tokens")
        let tokenizer = try WordPieceTokenizer(vocabulary: vocabulary, maximumLength: 2)
        #expect(tokenizer.maximumLength == 2)
        for call in [{ _ = try tokenizer.encode("a", maximumLength: length) },
                     { _ = try tokenizer.encodeBatch(["a"], maximumLength: length) },
                     { _ = try tokenizer.tokens("a", maximumLength: length) }] {
            let error = try #require(throws: WeightsError.self) { try call() }
            #expect(error == made)
        }
        #expect(try tokenizer.encode("a a", maximumLength: 3).ids == [2, 4, 3])
    }

    @Test func maximumLengthOfJSONTokenizerIsChecked() throws {
        let directory = try temporaryDirectory(prefix: "weights-tokenizer-tests")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tokenizer.json"
        let json = """
            {"pre_tokenizer": {"type": "BertPreTokenizer"},
             "post_processor": {"type": "BertProcessing", "cls": ["[CLS]", 1], "sep": ["[SEP]", 2]},
             \(Self.minimalModel)}
            """
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        let error = try #require(throws: WeightsError.self) { try WordPieceTokenizer(tokenizerJSON: path, maximumLength: 1) }
        #expect(error.code == .invalidArgument)
        #expect(error.reason.contains("maximumLength 1 leaves no room for the 2 special tokens"))
        #expect(try WordPieceTokenizer(tokenizerJSON: path, maximumLength: 2).encode("a").ids == [1, 2])
    }

    @Test func vocabularyTextWithoutRequiredTokens() throws {
        check(try load("[PAD]\n[UNK]\n[SEP]\na\n", name: "vocab.txt"), .invalidArgument,
              "the vocabulary has no entry for \"[CLS]\"")
    }

    @Test func vocabularyTextWithCRLFLines() throws {
        let directory = try temporaryDirectory(prefix: "weights-tokenizer-tests")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/vocab.txt"
        try "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s\r\n".write(toFile: path, atomically: true, encoding: .utf8)
        let tokenizer = try WordPieceTokenizer(vocabulary: path)
        #expect(tokenizer.encode("Hellos [SEP]").ids == [2, 4, 5, 3, 3])
        #expect(tokenizer.vocabularySize == 6)
    }
}
