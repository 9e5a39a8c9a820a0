import WeightsCore

extension SentencePieceVocabulary {
    /// The vocabulary a GGUF file's `tokenizer.ggml.tokens`, `scores` and `token_type` arrays
    /// give: the tokens' bytes copied from the mapping in one piece, as they lie.
    ///
    /// - Throws: `invalidData` naming the file and key when an array is missing, of the wrong
    ///   type, of another length, or its strings run past the array.
    /// - Complexity: O(total bytes of the token texts).
    package init(gguf file: GGUFFile) throws {
        func array(_ key: String, _ type: GGUFValueType) throws -> GGUFArray {
            guard let array = file.metadata[key]?.array, array.elementType == type else {
                throw WeightsError(.invalidData, "'\(key)' is missing or is not an array of \(type)", file: file.path)
            }
            return array
        }
        let tokens = try array("tokenizer.ggml.tokens", .string)
        let count = tokens.count
        let scores = try file.metadata["tokenizer.ggml.scores"]?.array?.floats() ?? [Float](repeating: 0, count: count)
        let types = try Self.tokenTypes(file, count: count)
        guard scores.count == count, types.count == count else {
            throw WeightsError(.invalidData, "'tokenizer.ggml.tokens' has \(count) tokens, 'tokenizer.ggml.scores' \(scores.count) "
                + "and 'tokenizer.ggml.token_type' \(types.count)", file: file.path)
        }
        do {
            // Sound: the array lends its mapped bytes for the closure, which copies them.
            self = try unsafe tokens.withUnsafeElementBytes { (raw) throws(WeightsError) in
                try unsafe SentencePieceVocabulary(copying: raw, scores: scores, types: types)
            }
        } catch {
            throw error.in(file: file.path)
        }
    }

    /// The `tokenizer.ggml.token_type` array's types (all `normal` when the file has none),
    /// read from its bytes when they are `INT32`, as GGUF writers store them.
    private static func tokenTypes(_ file: GGUFFile, count: Int) throws -> [TokenType] {
        guard let array = file.metadata["tokenizer.ggml.token_type"]?.array else {
            return [TokenType](repeating: .normal, count: count)
        }
        func type(_ raw: Int, _ index: Int) throws(WeightsError) -> TokenType {
            do { return try TokenType(gguf: raw, token: index) } catch { throw error.in(file: file.path) }
        }
        guard array.elementType == .int32 else {
            return try array.integers().enumerated().map { (index, raw) throws(WeightsError) in try type(raw, index) }
        }
        // Sound: the array lends its mapped bytes, 4 an element, for the closure; each load is
        // inside them.
        return unsafe try array.withUnsafeElementBytes { (raw) throws(WeightsError) in
            var types: [TokenType] = []
            types.reserveCapacity(raw.count / 4)
            for index in 0..<raw.count / 4 {
                let value = unsafe Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * index, as: Int32.self))
                types.append(try type(Int(value), index))
            }
            return types
        }
    }
}

extension SentencePieceTokenizer {
    /// The tokenizer a GGUF file describes, for `tokenizer.ggml.model = "llama"`.
    ///
    /// - Throws: `unsupportedFormat` for another tokenizer model; the vocabulary's errors.
    package init(gguf file: GGUFFile) throws {
        let model = file.metadata["tokenizer.ggml.model"]?.string
        guard model == "llama" else {
            throw WeightsError(.unsupportedFormat,
                "tokenizer model '\(model ?? "none")' is not the SentencePiece-style 'llama' model", file: file.path)
        }
        let metadata = file.metadata
        func id(_ key: String, _ fallback: Int?) -> Int? { metadata["tokenizer.ggml.\(key)"]?.int ?? fallback }
        func flag(_ key: String, _ fallback: Bool) -> Bool { metadata["tokenizer.ggml.\(key)"]?.bool ?? fallback }
        // llama.cpp's defaults for this model when the file leaves a key out.
        let configuration = Configuration(
            bos: id("bos_token_id", 1), eos: id("eos_token_id", 2), unknown: id("unknown_token_id", 0),
            addBOS: flag("add_bos_token", true), addEOS: flag("add_eos_token", false),
            addSpacePrefix: flag("add_space_prefix", true))
        do {
            try self.init(vocabulary: SentencePieceVocabulary(gguf: file), configuration: configuration)
        } catch let error as WeightsError {
            throw error.in(file: file.path)
        }
    }
}
