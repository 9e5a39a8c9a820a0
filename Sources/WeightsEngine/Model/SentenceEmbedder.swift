import WeightsCore

/// Sentence embeddings from text: the model directory's WordPiece tokenizer, then its
/// ``EmbeddingModel`` (encoder, pooling, normalization).
///
/// For all-MiniLM-L6-v2 the vectors equal sentence-transformers' `encode` to within float
/// rounding (cosine ≥ 0.999999 on the reference sentences).
///
/// ```swift
/// let embedder = try SentenceEmbedder()                 // the default model, F32, all cores
/// let vectors = try embedder.embed(["A man is eating food.", "A man is riding a horse."])
/// let ranked = try embedder.rank("Someone eats", among: ["A man is eating food.", "Jazz"])
/// ```
public final class SentenceEmbedder: Sendable {
    public let tokenizer: WordPieceTokenizer
    public let model: EmbeddingModel

    /// The length of the vectors.
    public var dimension: Int { model.dimension }

    /// Loads the model in `directory` (by default ``ModelDirectory/default``).
    ///
    /// - Parameters:
    ///   - directory: The sentence-transformers model directory.
    ///   - precision: the format to keep weight matrices in (`nil`: as stored).
    ///   - compute: the arithmetic of the linear layers (`.int8`: integer products on INT8
    ///     weights, Spec/int8-compute.md).
    ///   - threads: cores to use; the default is every core.
    ///   - formats: weight formats beyond the core's (`Checkpoint.allFormats` reads a
    ///     `model.wzst` container in place of `model.safetensors`).
    /// - Throws: `WeightsError` naming the file at fault.
    public init(modelDirectory directory: String = ModelDirectory.default, precision: WeightPrecision? = nil,
                compute: ComputePrecision = .f32, threads: Int? = nil,
                formats: [any CheckpointFormat.Type] = []) throws {
        guard ModelDirectory.directoryExists(directory) else {
            throw WeightsError(.io, "no model directory here (run scripts/setup to install the default model)",
                               file: directory)
        }
        let files = try ModelDirectory(path: directory)
        // The tokenizer is read on a second thread while the model loads, unless one thread is
        // asked for; the model's error, if any, is the one thrown.
        (model, tokenizer) = try Parallel.both(concurrently: threads != 1,
            { try EmbeddingModel(files, precision: precision, compute: compute, threads: threads, formats: formats) },
            { try WordPieceTokenizer(files) })
        guard model.maximumLength >= tokenizer.specialTokenCount else {
            throw WeightsError(.invalidArgument,
                "the model takes at most \(model.maximumLength) tokens, fewer than the tokenizer's \(tokenizer.specialTokenCount) special tokens",
                file: directory)
        }
    }

    /// One vector per text, in order. Texts longer than the model's limit are truncated
    /// (256 tokens for all-MiniLM-L6-v2), as sentence-transformers truncates them.
    ///
    /// - Complexity: O(characters) to tokenize, then as ``EmbeddingModel/embed(tokenIDs:batchSize:)``.
    public func embed(_ texts: [String], batchSize: Int = 32) throws -> [[Float]] {
        let ids = try texts.map { try tokenizer.encode($0, maximumLength: model.maximumLength).ids }
        return try model.embed(tokenIDs: ids, batchSize: batchSize)
    }

    /// The vector of one text.
    public func embed(_ text: String) throws -> [Float] {
        try embed([text])[0]
    }

    /// `candidates` ordered by cosine similarity to `query`, most similar first (ties keep
    /// the input order).
    ///
    /// - Returns: each candidate's index in `candidates` and its similarity.
    public func rank(_ query: String, among candidates: [String]) throws -> [(index: Int, similarity: Float)] {
        let vectors = try embed([query] + candidates)
        let scored = vectors.dropFirst().enumerated().map { index, vector in
            (index: index, similarity: Self.cosine(vectors[0], vector))
        }
        return scored.sorted { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : $0.index < $1.index }
    }

    /// The cosine similarity of two vectors of equal length (0 when either is zero).
    public static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "cosine: vectors differ in length")
        // Sound: the arrays' own buffers, lent for the closures; `dot` checks their lengths.
        return unsafe a.withUnsafeBufferPointer { a in
            unsafe b.withUnsafeBufferPointer { b in
                let norms = unsafe (Operations.dot(a, a) * Operations.dot(b, b)).squareRoot()
                return unsafe norms > 0 ? Operations.dot(a, b) / norms : 0
            }
        }
    }
}
