import Foundation
import Testing
import WeightsEngine

/// Where the tokenizer tests find the model and the fixtures.
enum TokenizerTestSupport {
    /// The package root, found from this file's path (Tests/WeightsEngineTests/…).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A file in `Fixtures/minilm`.
    static func fixture(_ name: String) -> URL {
        packageRoot.appendingPathComponent("Fixtures/minilm").appendingPathComponent(name)
    }

    /// `$WEIGHTS_MODEL_DIR` if set, else
    /// `${WEIGHTS_MODELS:-$HOME/.cache/weights/models}/all-MiniLM-L6-v2`.
    static var modelDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let directory = environment["WEIGHTS_MODEL_DIR"], !directory.isEmpty {
            return URL(fileURLWithPath: directory)
        }
        let models: URL
        if let root = environment["WEIGHTS_MODELS"], !root.isEmpty {
            models = URL(fileURLWithPath: root)
        } else {
            let home = environment["HOME"].map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser
            models = home.appendingPathComponent(".cache/weights/models")
        }
        return models.appendingPathComponent("all-MiniLM-L6-v2")
    }

    /// Thrown (so the test fails, with this message) when the model is not installed.
    struct ModelMissing: Error, CustomStringConvertible {
        var directory: URL
        var description: String {
            "all-MiniLM-L6-v2 is not installed at \(directory.path) "
                + "(set WEIGHTS_MODEL_DIR or WEIGHTS_MODELS to point elsewhere). Run scripts/setup to install it."
        }
    }

    /// The model's tokenizer from `tokenizer.json`, loaded once.
    static func tokenizer() throws -> WordPieceTokenizer {
        try loadedFromJSON.get()
    }

    /// The same tokenizer built from the model's `vocab.txt`, loaded once.
    static func vocabularyTokenizer() throws -> WordPieceTokenizer {
        try loadedFromVocabulary.get()
    }

    private static let loadedFromJSON = load { directory throws(TokenizerError) in
        try WordPieceTokenizer(modelDirectory: directory)
    }
    private static let loadedFromVocabulary = load { directory throws(TokenizerError) in
        try WordPieceTokenizer(vocabulary: directory.appendingPathComponent("vocab.txt"))
    }

    private static func load(
        _ make: (URL) throws(TokenizerError) -> WordPieceTokenizer
    ) -> Result<WordPieceTokenizer, any Error> {
        let directory = modelDirectory
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("tokenizer.json").path) else {
            return .failure(ModelMissing(directory: directory))
        }
        do {
            return .success(try make(directory))
        } catch {
            return .failure(error)
        }
    }

    /// Decodes a fixture file.
    static func decodeFixture<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let url = fixture(name)
        let data = try Data(contentsOf: url)
        return try JSONDecoder().decode(T.self, from: data)
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("weights-tokenizer-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
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
    var maxLength: Int
    var cases: [Case]
    /// Long texts encoded without truncation.
    var longCases: [Case]
    var addedTokenCases: [Case]
    enum CodingKeys: String, CodingKey {
        case cases
        case tokenizersVersion = "tokenizers_version"
        case maxLength = "max_length"
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
