import Foundation
import Weights

/// The parts of a Hugging Face `tokenizer.json` that ``TokenizerConfiguration`` reads; other
/// keys are checked for syntax and skipped.
///
/// Read with the package's strict JSON scanner rather than `JSONDecoder`: the file is almost all
/// vocabulary (30,522 entries for MiniLM), and decoding that through `Decodable` took about
/// 20 ms, a third of the time from process start to the first embedding. Here the vocabulary goes
/// straight from the bytes into its dictionary; the small sections around it are read as
/// ``JSONValue``s and checked field by field.
struct TokenizerFile {
    struct Model {
        var type: String?
        var vocab: [String: Int32]
        var unkToken: String?
        var continuingSubwordPrefix: String?
        var maxInputCharsPerWord: Int?
    }

    struct Normalizer {
        var type: String
        var cleanText: Bool?
        var handleChineseChars: Bool?
        var stripAccents: Bool?
        var lowercase: Bool?
        var separateNumbers: Bool?
    }

    struct AddedToken {
        var id: Int
        var content: String
        var singleWord: Bool?
        var lstrip: Bool?
        var rstrip: Bool?
        var normalized: Bool?
        var special: Bool?
    }

    struct PostProcessor {
        /// One piece of a `TemplateProcessing` template: a special token (by its id string)
        /// or the sequence itself.
        struct Piece {
            var specialToken: String?
            var isSequence: Bool
        }
        /// BertProcessing writes its tokens as `["[CLS]", 101]`.
        struct TokenAndID {
            var token: String
            var id: Int
        }
        var type: String
        var single: [Piece]?
        /// The `ids` of each entry of `special_tokens`, by its key.
        var specialTokens: [String: [Int]]?
        var cls: TokenAndID?
        var sep: TokenAndID?
    }

    var model: Model
    var normalizer: Normalizer?
    /// The `type` of `pre_tokenizer`.
    var preTokenizer: String?
    var postProcessor: PostProcessor?
    var addedTokens: [AddedToken]?
    /// `padding.pad_id`.
    var padID: Int?

    /// Reads the file's bytes.
    ///
    /// - Throws: `.invalidJSON` for bad syntax (with the byte offset), a missing `model`, or a
    ///   field of the wrong type (with its path); `.invalidVocabulary` for a negative, too large
    ///   or repeated vocabulary entry.
    /// - Complexity: O(file size).
    init(_ bytes: UnsafeRawBufferPointer, url: URL) throws(TokenizerError) {
        let fields = Fields(url: url)
        var model: Model?
        var sections: [String: JSONValue] = [:]
        do {
            var scanner = JSONScanner(bytes, unit: "byte")
            guard try scanner.peek() == UInt8(ascii: "{") else { throw scanner.error("expected an object") }
            var seen = Set<String>()
            try scanner.readObject { scanner, key in
                guard seen.insert(key).inserted else { throw scanner.error("duplicate key \"\(key)\"") }
                switch key {
                case "model":
                    model = try Self.readModel(&scanner, fields)
                case "normalizer", "pre_tokenizer", "post_processor", "added_tokens", "padding":
                    sections[key] = try scanner.readValue(depth: 1)
                default:
                    try scanner.skipValue(depth: 1)
                }
            }
            scanner.skipWhitespace()
            guard scanner.isAtEnd else { throw scanner.error("trailing characters after JSON") }
        } catch let error as TokenizerError {
            throw error
        } catch let error as WeightsError {
            throw .invalidJSON(url, reason: "malformed JSON: \(error.reason)")
        } catch {
            throw .invalidJSON(url, reason: "malformed JSON: \(error)")
        }
        guard let model else { throw .invalidJSON(url, reason: "missing key \"model\"") }
        self.model = model
        if let value = sections["normalizer"] { normalizer = try Self.normalizer(value, fields) }
        if let value = sections["pre_tokenizer"], try fields.object(value, "pre_tokenizer") != nil {
            preTokenizer = try fields.requiredString(value, "type", in: "pre_tokenizer")
        }
        if let value = sections["post_processor"] { postProcessor = try Self.postProcessor(value, fields) }
        if let tokens = try fields.array(sections["added_tokens"], "added_tokens") {
            var added: [AddedToken] = []
            for (index, token) in tokens.enumerated() {
                added.append(try Self.addedToken(token, path: "added_tokens.\(index)", fields))
            }
            addedTokens = added
        }
        if let padding = sections["padding"], try fields.object(padding, "padding") != nil {
            padID = try fields.int(padding["pad_id"], "padding.pad_id")
        }
    }

    /// Reads the `model` object; its `vocab` without building a ``JSONValue`` per entry.
    private static func readModel(_ scanner: inout JSONScanner, _ fields: Fields) throws -> Model {
        var model = Model(vocab: [:])
        var sawVocabulary = false
        var seen = Set<String>()
        try scanner.readObject { scanner, key in
            guard seen.insert(key).inserted else { throw scanner.error("duplicate key \"\(key)\"") }
            switch key {
            case "vocab":
                model.vocab = try readVocabulary(&scanner, fields)
                sawVocabulary = true
            case "type":
                model.type = try fields.string(try scanner.readValue(depth: 2), "model.type")
            case "unk_token":
                model.unkToken = try fields.string(try scanner.readValue(depth: 2), "model.unk_token")
            case "continuing_subword_prefix":
                model.continuingSubwordPrefix = try fields.string(
                    try scanner.readValue(depth: 2), "model.continuing_subword_prefix")
            case "max_input_chars_per_word":
                model.maxInputCharsPerWord = try fields.int(
                    try scanner.readValue(depth: 2), "model.max_input_chars_per_word")
            default:
                try scanner.skipValue(depth: 2)
            }
        }
        guard sawVocabulary else { throw TokenizerError.invalidJSON(fields.url, reason: "missing key \"vocab\" at model") }
        return model
    }

    /// Reads `{"token": id, ...}` straight into a dictionary.
    private static func readVocabulary(_ scanner: inout JSONScanner, _ fields: Fields) throws -> [String: Int32] {
        var vocabulary: [String: Int32] = [:]
        guard try scanner.beginObject() else { return vocabulary }
        var largest: (token: String, id: Int32)?
        repeat {
            let token = try scanner.readKey()
            guard try scanner.peek() != UInt8(ascii: "-") else {
                throw TokenizerError.invalidVocabulary(fields.url, reason: "token \"\(token)\" has a negative id")
            }
            let id = try scanner.readUInt64()
            guard let id32 = Int32(exactly: id) else {
                throw TokenizerError.invalidVocabulary(fields.url, reason: "token \"\(token)\" has id \(id)")
            }
            guard vocabulary.updateValue(id32, forKey: token) == nil else {
                throw TokenizerError.invalidVocabulary(fields.url, reason: "token \"\(token)\" appears twice")
            }
            if id32 > largest?.id ?? -1 { largest = (token, id32) }
        } while try scanner.continueObject()
        // The id → token table is sized by the largest id: bound it by the entries that are
        // really there (Spec/limits.md), so one huge id can't make a small file allocate gigabytes.
        if let largest, Int(largest.id) >= vocabulary.count + WordPieceVocabulary.idSlack {
            throw TokenizerError.invalidVocabulary(fields.url,
                reason: "token \"\(largest.token)\" at model.vocab has id \(largest.id), beyond the \(vocabulary.count) entries "
                    + "+ \(WordPieceVocabulary.idSlack) that ids may span")
        }
        return vocabulary
    }

    private static func normalizer(_ value: JSONValue, _ fields: Fields) throws(TokenizerError) -> Normalizer? {
        guard try fields.object(value, "normalizer") != nil else { return nil }
        let path = "normalizer"
        return Normalizer(
            type: try fields.requiredString(value, "type", in: path),
            cleanText: try fields.bool(value["clean_text"], "\(path).clean_text"),
            handleChineseChars: try fields.bool(value["handle_chinese_chars"], "\(path).handle_chinese_chars"),
            stripAccents: try fields.bool(value["strip_accents"], "\(path).strip_accents"),
            lowercase: try fields.bool(value["lowercase"], "\(path).lowercase"),
            separateNumbers: try fields.bool(value["separate_numbers"], "\(path).separate_numbers"))
    }

    private static func addedToken(_ value: JSONValue, path: String, _ fields: Fields) throws(TokenizerError) -> AddedToken {
        guard try fields.object(value, path) != nil else { throw fields.mismatch(path, "an object") }
        guard let id = try fields.int(value["id"], "\(path).id") else {
            throw .invalidJSON(fields.url, reason: "missing key \"id\" at \(path)")
        }
        return AddedToken(
            id: id,
            content: try fields.requiredString(value, "content", in: path),
            singleWord: try fields.bool(value["single_word"], "\(path).single_word"),
            lstrip: try fields.bool(value["lstrip"], "\(path).lstrip"),
            rstrip: try fields.bool(value["rstrip"], "\(path).rstrip"),
            normalized: try fields.bool(value["normalized"], "\(path).normalized"),
            special: try fields.bool(value["special"], "\(path).special"))
    }

    private static func postProcessor(_ value: JSONValue, _ fields: Fields) throws(TokenizerError) -> PostProcessor? {
        let path = "post_processor"
        guard try fields.object(value, path) != nil else { return nil }
        var processor = PostProcessor(type: try fields.requiredString(value, "type", in: path))
        if let pieces = try fields.array(value["single"], "\(path).single") {
            var single: [PostProcessor.Piece] = []
            for (index, piece) in pieces.enumerated() {
                let piecePath = "\(path).single.\(index)"
                var specialToken: String?
                if let special = piece["SpecialToken"], try fields.object(special, "\(piecePath).SpecialToken") != nil {
                    specialToken = try fields.requiredString(special, "id", in: "\(piecePath).SpecialToken")
                }
                let isSequence = try fields.object(piece["Sequence"], "\(piecePath).Sequence") != nil
                single.append(PostProcessor.Piece(specialToken: specialToken, isSequence: isSequence))
            }
            processor.single = single
        }
        if let members = try fields.object(value["special_tokens"], "\(path).special_tokens") {
            var specialTokens: [String: [Int]] = [:]
            for (key, entry) in members {
                let entryPath = "\(path).special_tokens.\(key)"
                var ids: [Int] = []
                for (index, id) in (try fields.array(entry["ids"], "\(entryPath).ids") ?? []).enumerated() {
                    guard let id = try fields.int(id, "\(entryPath).ids.\(index)") else {
                        throw fields.mismatch("\(entryPath).ids.\(index)", "an integer")
                    }
                    ids.append(id)
                }
                specialTokens[key] = ids
            }
            processor.specialTokens = specialTokens
        }
        processor.cls = try tokenAndID(value["cls"], "\(path).cls", fields)
        processor.sep = try tokenAndID(value["sep"], "\(path).sep", fields)
        return processor
    }

    private static func tokenAndID(_ value: JSONValue?, _ path: String, _ fields: Fields) throws(TokenizerError) -> PostProcessor.TokenAndID? {
        guard let pair = try fields.array(value, path) else { return nil }
        guard pair.count == 2, let token = try fields.string(pair[0], "\(path).0"), let id = try fields.int(pair[1], "\(path).1") else {
            throw .invalidJSON(fields.url, reason: "unexpected value at \(path): expected [token, id]")
        }
        return PostProcessor.TokenAndID(token: token, id: id)
    }
}

/// Typed reads of optional JSON fields: `null` and absent both read as nil; any other type is an
/// `.invalidJSON` error naming the field's path.
private struct Fields {
    let url: URL

    func mismatch(_ path: String, _ expected: String) -> TokenizerError {
        .invalidJSON(url, reason: "unexpected value at \(path): expected \(expected)")
    }

    func object(_ value: JSONValue?, _ path: String) throws(TokenizerError) -> [(String, JSONValue)]? {
        switch value {
        case nil, .null?: return nil
        case .object(let members)?: return members
        default: throw mismatch(path, "an object")
        }
    }

    func array(_ value: JSONValue?, _ path: String) throws(TokenizerError) -> [JSONValue]? {
        switch value {
        case nil, .null?: return nil
        case .array(let elements)?: return elements
        default: throw mismatch(path, "an array")
        }
    }

    func string(_ value: JSONValue?, _ path: String) throws(TokenizerError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw mismatch(path, "a string")
        }
    }

    func bool(_ value: JSONValue?, _ path: String) throws(TokenizerError) -> Bool? {
        switch value {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        default: throw mismatch(path, "true or false")
        }
    }

    func int(_ value: JSONValue?, _ path: String) throws(TokenizerError) -> Int? {
        switch value {
        case nil, .null?: return nil
        case .number(let text)?:
            guard let number = Int(text) else { throw mismatch(path, "an integer") }
            return number
        default: throw mismatch(path, "an integer")
        }
    }

    /// `object[key]` as a string, which must be there.
    func requiredString(_ object: JSONValue, _ key: String, in path: String) throws(TokenizerError) -> String {
        guard let text = try string(object[key], "\(path).\(key)") else {
            throw .invalidJSON(url, reason: "missing key \"\(key)\" at \(path)")
        }
        return text
    }
}
