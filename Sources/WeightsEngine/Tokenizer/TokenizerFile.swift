import WeightsCore

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

    /// Reads the file's bytes; `path` names the file in errors.
    ///
    /// - Throws: `invalidArgument` naming the file: for bad syntax ("malformed JSON", with the
    ///   byte offset), a missing `model`, a field of the wrong type (with its path), or a
    ///   negative, too large or repeated vocabulary entry.
    /// - Complexity: O(file size).
    init(_ bytes: UnsafeRawBufferPointer, path: String) throws {
        // Sound: the caller lends `bytes` for the call (the init is `unsafe` by its buffer); the
        // scanner reads only inside it, with checked reads, and does not outlive the call.
        let root = JSONField(nil, file: path)
        var model: Model?
        var sections: [String: JSONValue] = [:]
        do {
            var scanner = unsafe JSONScanner(bytes, unit: "byte")
            guard unsafe try scanner.peek() == UInt8(ascii: "{") else { throw unsafe scanner.error("expected an object") }
            var seen = Set<String>()
            unsafe try scanner.readObject { scanner, key in
                guard seen.insert(key).inserted else { throw unsafe scanner.error("duplicate key \"\(key)\"") }
                switch key {
                case "model":
                    model = unsafe try Self.readModel(&scanner, root["model"])
                case "normalizer", "pre_tokenizer", "post_processor", "added_tokens", "padding":
                    sections[key] = unsafe try scanner.readValue(depth: 1)
                default:
                    unsafe try scanner.skipValue(depth: 1)
                }
            }
            unsafe scanner.skipWhitespace()
            guard unsafe scanner.isAtEnd else { throw unsafe scanner.error("trailing characters after JSON") }
        } catch let error as WeightsError {
            throw JSONField.malformed(error, file: path)
        }
        guard let model else { throw root["model"].missing() }
        self.model = model
        func section(_ key: String) -> JSONField { JSONField(sections[key], file: path, name: key) }

        let normalizer = section("normalizer")
        if try normalizer.object() != nil { self.normalizer = try Self.normalizer(normalizer) }
        let preTokenizer = section("pre_tokenizer")
        if try preTokenizer.object() != nil { self.preTokenizer = try preTokenizer["type"].requiredString() }
        let postProcessor = section("post_processor")
        if try postProcessor.object() != nil { self.postProcessor = try Self.postProcessor(postProcessor) }
        if let tokens = try section("added_tokens").array() {
            addedTokens = try tokens.map(Self.addedToken)
        }
        let padding = section("padding")
        if try padding.object() != nil { padID = try padding["pad_id"].int() }
    }

    /// Reads the `model` object; its `vocab` without building a ``JSONValue`` per entry.
    private static func readModel(_ scanner: inout JSONScanner, _ field: JSONField) throws -> Model {
        // Sound: the scanner's own checked reads over the bytes `init` lends (`unsafe` marks its type).
        var model = Model(vocab: [:])
        var sawVocabulary = false
        var seen = Set<String>()
        unsafe try scanner.readObject { scanner, key in
            guard seen.insert(key).inserted else { throw unsafe scanner.error("duplicate key \"\(key)\"") }
            func value() throws -> JSONField {
                unsafe JSONField(try scanner.readValue(depth: 2), file: field.file, parent: field.path, name: key)
            }
            switch key {
            case "vocab":
                model.vocab = unsafe try readVocabulary(&scanner, file: field.file)
                sawVocabulary = true
            case "type":
                model.type = try value().string()
            case "unk_token":
                model.unkToken = try value().string()
            case "continuing_subword_prefix":
                model.continuingSubwordPrefix = try value().string()
            case "max_input_chars_per_word":
                model.maxInputCharsPerWord = try value().int()
            default:
                unsafe try scanner.skipValue(depth: 2)
            }
        }
        guard sawVocabulary else { throw field["vocab"].missing() }
        return model
    }

    /// Reads `{"token": id, ...}` straight into a dictionary.
    private static func readVocabulary(_ scanner: inout JSONScanner, file: String) throws -> [String: Int32] {
        // Sound: as in `readModel`.
        var vocabulary: [String: Int32] = [:]
        guard unsafe try scanner.beginObject() else { return vocabulary }
        var largest: (token: String, id: Int32)?
        repeat {
            let token = unsafe try scanner.readKey()
            guard unsafe try scanner.peek() != UInt8(ascii: "-") else {
                throw WeightsError.invalidVocabulary("token \"\(token)\" has a negative id", file: file)
            }
            let id = unsafe try scanner.readUInt64()
            guard let id32 = Int32(exactly: id) else {
                throw WeightsError.invalidVocabulary("token \"\(token)\" has id \(id)", file: file)
            }
            guard vocabulary.updateValue(id32, forKey: token) == nil else {
                throw WeightsError.invalidVocabulary("token \"\(token)\" appears twice", file: file)
            }
            if id32 > largest?.id ?? -1 { largest = (token, id32) }
        } while unsafe try scanner.continueObject()
        // The id → token table is sized by the largest id: bound it by the entries that are
        // really there (Spec/limits.md), so one huge id can't make a small file allocate gigabytes.
        if let largest, Int(largest.id) >= vocabulary.count + WordPieceVocabulary.idSlack {
            throw WeightsError.invalidVocabulary(
                "token \"\(largest.token)\" at model.vocab has id \(largest.id), beyond the \(vocabulary.count) entries "
                    + "+ \(WordPieceVocabulary.idSlack) that ids may span", file: file)
        }
        return vocabulary
    }

    private static func normalizer(_ field: JSONField) throws -> Normalizer {
        Normalizer(
            type: try field["type"].requiredString(),
            cleanText: try field["clean_text"].bool(),
            handleChineseChars: try field["handle_chinese_chars"].bool(),
            stripAccents: try field["strip_accents"].bool(),
            lowercase: try field["lowercase"].bool(),
            separateNumbers: try field["separate_numbers"].bool())
    }

    private static func addedToken(_ field: JSONField) throws -> AddedToken {
        let field = try field.asObject()
        return AddedToken(
            id: try field["id"].requiredInt(),
            content: try field["content"].requiredString(),
            singleWord: try field["single_word"].bool(),
            lstrip: try field["lstrip"].bool(),
            rstrip: try field["rstrip"].bool(),
            normalized: try field["normalized"].bool(),
            special: try field["special"].bool())
    }

    private static func postProcessor(_ field: JSONField) throws -> PostProcessor {
        var processor = PostProcessor(type: try field["type"].requiredString())
        if let pieces = try field["single"].array() {
            processor.single = try pieces.map { piece in
                var specialToken: String?
                let special = piece["SpecialToken"]
                if try special.object() != nil { specialToken = try special["id"].requiredString() }
                let isSequence = try piece["Sequence"].object() != nil
                return PostProcessor.Piece(specialToken: specialToken, isSequence: isSequence)
            }
        }
        if let entries = try field["special_tokens"].object() {
            var specialTokens: [String: [Int]] = [:]
            for (key, entry) in entries {
                specialTokens[key] = try (entry["ids"].array() ?? []).map { id in
                    guard let id = try id.int() else { throw id.mismatch("an integer") }
                    return id
                }
            }
            processor.specialTokens = specialTokens
        }
        processor.cls = try tokenAndID(field["cls"])
        processor.sep = try tokenAndID(field["sep"])
        return processor
    }

    private static func tokenAndID(_ field: JSONField) throws -> PostProcessor.TokenAndID? {
        guard let pair = try field.array() else { return nil }
        guard pair.count == 2, let token = try pair[0].string(), let id = try pair[1].int() else {
            throw field.mismatch("[token, id]")
        }
        return PostProcessor.TokenAndID(token: token, id: id)
    }
}
