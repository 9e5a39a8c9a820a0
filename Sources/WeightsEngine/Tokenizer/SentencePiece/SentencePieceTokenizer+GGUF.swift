import WeightsCore

extension SentencePieceVocabulary {
    /// The vocabulary a GGUF file's `tokenizer.ggml.tokens`, `scores` and `token_type` arrays
    /// give, read in one pass over the mapped strings.
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
        var starts: [Int32] = [0]
        starts.reserveCapacity(count + 1)
        var bytes: [UInt8] = []
        // Sound: the array lends its mapped bytes for the closure; each read is at an offset
        // checked against `raw.count` just before it (8 bytes of length, then `length` bytes),
        // and each copy into `buffer` at an offset checked against its capacity: the texts of
        // a well-formed array fill exactly what the lengths leave of it.
        unsafe try tokens.withUnsafeElementBytes { (raw) throws(WeightsError) in
            let capacity = max(0, raw.count - 8 * count)
            bytes = unsafe try [UInt8](unsafeUninitializedCapacity: capacity) { (buffer, initialized) throws(WeightsError) in
                let destination = UnsafeMutableRawBufferPointer(buffer)
                var offset = 0
                for index in 0..<count {
                    guard offset + 8 <= raw.count else { throw Self.truncated(file.path, index) }
                    let length = unsafe UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                    offset += 8
                    guard length <= UInt64(raw.count - offset), Int(length) <= capacity - initialized else {
                        throw Self.truncated(file.path, index)
                    }
                    unsafe UnsafeMutableRawBufferPointer(rebasing: destination[initialized..<initialized + Int(length)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + Int(length)]))
                    offset += Int(length)
                    initialized += Int(length)
                    // Offsets are Int32: texts past 2 GiB are refused here, before one is made.
                    guard initialized < Int(Int32.max) else { throw Self.truncated(file.path, index) }
                    starts.append(Int32(initialized))
                }
            }
        }
        let scores = try file.metadata["tokenizer.ggml.scores"]?.array?.floats() ?? [Float](repeating: 0, count: count)
        let types = try Self.tokenTypes(file, count: count)
        do {
            try self.init(bytes: bytes, starts: starts, scores: scores, types: types)
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

    private static func truncated(_ path: String, _ index: Int) -> WeightsError {
        WeightsError(.invalidData, "token \(index) of 'tokenizer.ggml.tokens' runs past the array", file: path)
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
