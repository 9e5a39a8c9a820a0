import Foundation
import Testing
import WeightsEngine
import WeightsTestSupport

/// Where the tokenizer tests find the model and the fixtures (the paths through
/// WeightsTestSupport).
enum TokenizerTestSupport {
    /// A file in `Fixtures/minilm`.
    static func fixture(_ name: String) -> String {
        packagePath("Fixtures/minilm/" + name)
    }

    /// The model's tokenizer from `tokenizer.json`, loaded once.
    static func tokenizer() throws -> WordPieceTokenizer {
        try loadedFromJSON.get()
    }

    /// The same tokenizer built from the model's `vocab.txt`, loaded once.
    static func vocabularyTokenizer() throws -> WordPieceTokenizer {
        try loadedFromVocabulary.get()
    }

    private static let loadedFromJSON = load { directory in
        try WordPieceTokenizer(modelDirectory: directory)
    }
    private static let loadedFromVocabulary = load { directory in
        try WordPieceTokenizer(vocabulary: directory + "/vocab.txt")
    }

    private static func load(_ make: (String) throws -> WordPieceTokenizer) -> Result<WordPieceTokenizer, any Error> {
        Result { try make(installedModelDirectory()) }
    }

    /// Decodes a fixture file.
    static func decodeFixture<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
        return try JSONDecoder().decode(T.self, from: data)
    }
}

/// `Fixtures/minilm/minilm_embeddings.json`: only the fields the tokenizer tests read.
struct MiniLMReference: Decodable {
    var sentences: [String]
    var inputIDs: [[Int32]]
    enum CodingKeys: String, CodingKey {
        case sentences
        case inputIDs = "input_ids"
    }
}

/// `Fixtures/minilm/tokenizer_cases.json`.
struct TokenizerCases: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var text: String
        var ids: [Int32]
        /// Absent for the long cases.
        var tokens: [String]?
        var testDescription: String { name }
    }
    var tokenizersVersion: String
    /// The truncation length of `cases`.
    var maximumLength: Int
    var cases: [Case]
    /// Long texts encoded without truncation.
    var longCases: [Case]
    var addedTokenCases: [Case]
    enum CodingKeys: String, CodingKey {
        case cases
        case tokenizersVersion = "tokenizers_version"
        case maximumLength = "max_length"
        case longCases = "long_cases"
        case addedTokenCases = "added_token_cases"
    }
}

/// `Fixtures/minilm/unicode_table.json`.
struct UnicodeTable: Decodable {
    /// Closed ranges `[first, last]` of code points.
    var removed: [[UInt32]]
    var whitespace: [[UInt32]]
    var isolated: [[UInt32]]
    var punctuation: [[UInt32]]
    /// `[code point, normalized text]` pairs.
    var mapped: [Mapped]
    /// Ranges whose code points are only checked where `mapped` lists them.
    var sampled: [[UInt32]]

    struct Mapped: Decodable {
        var codePoint: UInt32
        var text: String
        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            codePoint = try container.decode(UInt32.self)
            text = try container.decode(String.self)
        }
    }

    static func contains(_ ranges: [[UInt32]], _ value: UInt32) -> Bool {
        var low = 0, high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle][1] < value { low = middle + 1 } else { high = middle }
        }
        return low < ranges.count && ranges[low][0] <= value
    }
}
