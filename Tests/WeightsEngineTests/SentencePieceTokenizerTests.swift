import Testing
import WeightsCore
import WeightsEngine

/// A small vocabulary whose answers can be worked out by hand.
private func tokenizer(addSpacePrefix: Bool = false) throws -> SentencePieceTokenizer {
    let entries: [(String, Float, SentencePieceVocabulary.TokenType)] = [
        ("<pad>", 0, .control), ("<eos>", 0, .control), ("<bos>", 0, .control), ("<unk>", 0, .control),
        ("<start_of_turn>", 0, .control), ("\n", 0, .userDefined), ("  ", 0, .userDefined),
        ("▁", -1, .normal), ("a", -2, .normal), ("b", -2, .normal), ("c", -2, .normal),
        ("ab", -5, .normal), ("bc", -3, .normal), ("abc", -4, .normal), ("▁a", -6, .normal),
        ("<0x61>", 0, .byte), ("<0xC3>", 0, .byte), ("<0xA9>", 0, .byte), ("<0x0A>", 0, .byte),
        ("<", -9, .normal), ("s", -9, .normal), (">", -9, .normal),
    ]
    let vocabulary = try SentencePieceVocabulary(texts: entries.map(\.0), scores: entries.map(\.1), types: entries.map(\.2))
    return try SentencePieceTokenizer(vocabulary: vocabulary, configuration: .init(
        bos: 2, eos: 1, unknown: 3, addBOS: true, addEOS: false, addSpacePrefix: addSpacePrefix))
}

@Suite("SentencePiece tokenizer") struct SentencePieceTokenizerTests {
    @Test("The highest-scoring pair merges first: 'bc' (-3) before 'ab' (-5), then 'abc'")
    func mergesByScore() throws {
        let t = try tokenizer()
        #expect(t.encode("abc") == [2, 13])
        #expect(t.encode("ab", addSpecial: false) == [11])
        #expect(t.encode("cab", addSpecial: false) == [10, 11])
    }

    @Test("Among pairs of equal score the leftmost merges first")
    func tiesGoLeft() throws {
        // 'ab' and 'bc' score the same and overlap: the left pair wins, leaving 'c'.
        let vocabulary = try SentencePieceVocabulary(texts: ["<unk>", "a", "b", "c", "ab", "bc"],
                                                     scores: [0, -1, -1, -1, -5, -5],
                                                     types: [.unknown, .normal, .normal, .normal, .normal, .normal])
        let t = try SentencePieceTokenizer(vocabulary: vocabulary, configuration: .init(bos: nil, unknown: 0, addSpacePrefix: false))
        #expect(t.encode("abc") == [4, 3])
        #expect(t.encode("cabc") == [3, 4, 3])
        // "abab": 'ab' twice at -5, and 'ba' is no token.
        #expect(try tokenizer().encode("abab", addSpecial: false) == [11, 11])
    }

    @Test("Spaces become ▁, and a space prefix is added after a special token when asked")
    func spaces() throws {
        #expect(try tokenizer().encode("a a", addSpecial: false) == [8, 14])
        #expect(try tokenizer(addSpacePrefix: true).encode("a", addSpecial: false) == [14])
        #expect(try tokenizer(addSpacePrefix: true).encode("a<start_of_turn>a", addSpecial: false) == [14, 4, 14])
    }

    @Test("A character the vocabulary lacks is spelled in byte tokens; a missing byte token becomes <unk>")
    func byteFallback() throws {
        // "é" is C3 A9: both byte tokens exist.
        #expect(try tokenizer().encode("é", addSpecial: false) == [16, 17])
        // "ß" is C3 9F: no <0x9F>, so the unknown token stands for that byte.
        #expect(try tokenizer().encode("ß", addSpecial: false) == [16, 3])
    }

    @Test("User-defined tokens are always cut out; control tokens only when parsing special text")
    func specialTokens() throws {
        let t = try tokenizer()
        #expect(t.encode("a\nb  c", addSpecial: false) == [8, 5, 9, 6, 10])
        #expect(t.encode("<start_of_turn>a", addSpecial: false) == [4, 8])
        // Without special parsing the control token's text is plain text, merged from its characters.
        #expect(t.encode("<s>", addSpecial: false, parseSpecial: false) == [19, 20, 21])
        #expect(t.encode("<bos>", addSpecial: false, parseSpecial: true) == [2])
    }

    @Test("Longer special tokens are cut out before shorter ones")
    func longestFirst() throws {
        // "   " holds "  " once; the third space is ▁.
        #expect(try tokenizer().encode("a   ", addSpecial: false) == [8, 6, 7])
    }

    @Test("Decoding joins pieces: ▁ as a space, byte tokens as bytes, control tokens only on request")
    func decoding() throws {
        let t = try tokenizer()
        #expect(t.decode([2, 8, 14, 5, 16, 17]) == "a a\né")
        #expect(t.decode([2, 8], special: true) == "<bos>a")
        #expect(t.decode([99, -1]) == "", "ids outside the vocabulary give nothing")
        #expect(t.encode("", addSpecial: true) == [2])
        #expect(t.encode("", addSpecial: false) == [])
    }

    @Test("Bad vocabularies and configurations are errors, not traps")
    func badInput() throws {
        // One text of 2 bytes, as a GGUF string array lays it out.
        let strings: [UInt8] = [2, 0, 0, 0, 0, 0, 0, 0, 0x61, 0x62]
        #expect(try SentencePieceVocabulary(strings: strings, scores: [0], types: [1]).text(of: 0) == [0x61, 0x62])
        // The text runs past the array; a length field is cut short; a second text is missing.
        for (bytes, scores, types) in [(Array(strings.dropLast()), [Float(0)], [Int32(1)]), (Array(strings.prefix(5)), [0], [1]),
                                       (strings, [0, 0], [1, 1])] {
            #expect(throws: WeightsError.self) { try SentencePieceVocabulary(strings: bytes, scores: scores, types: types) }
        }
        // Bytes left after the texts; a length near 2^64; a type outside 0...6; counts that disagree.
        #expect(throws: WeightsError.self) { try SentencePieceVocabulary(strings: strings + [0], scores: [0], types: [1]) }
        #expect(throws: WeightsError.self) {
            try SentencePieceVocabulary(strings: [0xF8] + [UInt8](repeating: 0xFF, count: 7) + [0x61], scores: [0], types: [1])
        }
        #expect(throws: WeightsError.self) { try SentencePieceVocabulary(strings: strings, scores: [0], types: [9]) }
        #expect(throws: WeightsError.self) { try SentencePieceVocabulary(strings: strings, scores: [0], types: [1, 1]) }
        #expect(throws: WeightsError.self) { try SentencePieceVocabulary(texts: ["a", "b"], scores: [0], types: [.normal]) }
        let vocabulary = try SentencePieceVocabulary(texts: ["a"], scores: [0], types: [.normal])
        #expect(throws: WeightsError.self) {
            try SentencePieceTokenizer(vocabulary: vocabulary, configuration: .init(bos: 5))
        }
    }

    @Test("A later token with the same text wins the lookup, as in llama.cpp")
    func duplicateTexts() throws {
        let vocabulary = try SentencePieceVocabulary(texts: ["x", "y", "x"], scores: [0, 0, 0], types: [.normal, .normal, .normal])
        #expect(vocabulary.id(of: Array("x".utf8)) == 2)
        #expect(vocabulary.id(of: Array("z".utf8)) == nil)
    }

    @Test("Every text is found, whatever its length, from any collection of bytes")
    func lookups() throws {
        // Texts of 0 to 40 bytes (the table hashes whole words of 8 and a short tail; a lookup
        // hashes any collection byte by byte: the two must agree), and enough of them that
        // buckets hold several.
        var texts: [String] = []
        for length in 0...40 { texts.append(String(repeating: "ab▁", count: 14).utf8.prefix(length).map { String(UnicodeScalar($0)) }.joined()) }
        for number in 0..<5_000 { texts.append("▁token\(number)") }
        let vocabulary = try SentencePieceVocabulary(texts: texts, scores: texts.map { _ in 0 },
                                                     types: texts.map { _ in .normal })
        for (id, text) in texts.enumerated() {
            let bytes = Array(text.utf8)
            #expect(vocabulary.id(of: bytes) == id)
            #expect(vocabulary.id(of: ([0] + bytes + [0]).dropFirst().dropLast()) == id)
            #expect(vocabulary.id(of: bytes + [0x7A]) == nil)
        }
        // Each short text last in its buffer, where the build reads the words near the end
        // byte by byte instead of loading 8 bytes.
        for text in texts.prefix(41) {
            let last = try SentencePieceVocabulary(texts: ["%", text], scores: [0, 0], types: [.normal, .normal])
            #expect(last.id(of: Array(text.utf8)) == 1 && last.id(of: Array("%".utf8)) == 0, "\(text.utf8.count) bytes")
        }
    }
}
