import CWeightsSIMD
import WeightsCore

/// Text generation from a GGUF file, straight from its mapping: load once, then generate from
/// as many tasks as you like, each with its own cache.
///
/// ```swift
/// let model = try LanguageModel(path: LanguageModel.defaultPath)
/// let result = try model.generate("The capital of France is", options: .init(maximumTokens: 8))
/// print(result.text)
/// for try await piece in model.stream("Once upon a time", options: .init(maximumTokens: 32)) {
///     print(piece.text, terminator: "")
/// }
/// ```
public final class LanguageModel: Sendable {
    /// Where scripts/setup installs Gemma 3 270M Q4_K_M: `$WEIGHTS_MODELS/gemma-3-270m/`
    /// (default `~/.cache/weights/models`).
    public static var defaultPath: String {
        ModelDirectory.modelsRoot + "/gemma-3-270m/gemma-3-270m-Q4_K_M.gguf"
    }

    /// The instruction sets the matrix products use on this CPU, chosen at run time:
    /// "avx512-vnni (prompt blocks), avx2", "avx2" or "portable".
    public static var kernels: String {
        // Sound: a static C string, never freed.
        unsafe String(cString: weights_quantized_kernel_name())
    }

    /// How to continue a prompt.
    public struct Options: Sendable, Hashable {
        /// Tokens to generate at most.
        public var maximumTokens: Int
        /// 0: always the most likely token (greedy). Higher: more varied.
        public var temperature: Float
        /// Draw only among this many most likely tokens (0: all).
        public var topK: Int
        /// Draw only among the most likely tokens whose probabilities add up to this.
        public var topP: Float
        /// The seed of the draws; the same seed gives the same continuation.
        public var seed: UInt64
        /// Keep going past the end-of-sequence token.
        public var ignoreEndOfSequence: Bool

        public init(maximumTokens: Int = 64, temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95,
                    seed: UInt64 = 0, ignoreEndOfSequence: Bool = false) {
            self.maximumTokens = maximumTokens
            self.temperature = temperature
            self.topK = topK
            self.topP = topP
            self.seed = seed
            self.ignoreEndOfSequence = ignoreEndOfSequence
        }
    }

    /// How activations meet the weights' 4- to 8-bit blocks.
    public enum Arithmetic: Sendable, Hashable {
        /// Activations quantized to 8 bits per block once per vector, integer dot products
        /// (as llama.cpp computes): the fast default.
        case quantizedActivations
        /// binary32 activations, each weight block widened in registers: equal to a float32
        /// run on the dequantized weights up to the order of additions, and slower.
        case exact
    }

    /// One generated token, with the text it completes.
    public struct Piece: Sendable, Hashable {
        public var token: Int
        /// The text this token completes: empty while a multi-byte character is unfinished.
        public var text: String
    }

    /// A finished generation.
    public struct Result: Sendable {
        public var promptTokens: [Int]
        public var tokens: [Int]
        public var text: String
        /// The logits after the prompt (the distribution of the first generated token).
        public var promptLogits: [Float]
        public var promptSeconds: Double
        public var generationSeconds: Double
    }

    package let decoder: TransformerDecoder
    package let tokenizer: SentencePieceTokenizer
    /// Tokens that end a generation: the end-of-sequence token and the file's end-of-turn one.
    package let stopTokens: Set<Int>
    public let path: String

    /// Opens the model at `path`: maps the file, reads its configuration, tokenizer and tensor
    /// list. No weight is read until it is used.
    ///
    /// - Throws: `WeightsError` naming the file, tensor or key at fault.
    public init(path: String = LanguageModel.defaultPath, threads: Int? = nil,
                arithmetic: Arithmetic = .quantizedActivations) throws {
        let file = try GGUFFile(path: path)
        self.path = path
        // The tokenizer's tables are built on a second thread while the decoder's are made,
        // unless one thread is asked for; the decoder's error, if any, is the one thrown.
        let precision: QuantizedMatrix.Precision = arithmetic == .exact ? .exact : .quantizedActivations
        (decoder, tokenizer) = try Parallel.both(concurrently: threads != 1,
            { try TransformerDecoder(gguf: file, precision: precision, threads: threads) },
            { try SentencePieceTokenizer(gguf: file) })
        var stops = Set<Int>()
        if let eos = tokenizer.configuration.eos { stops.insert(eos) }
        if let endOfTurn = tokenizer.vocabulary.id(of: Array("<end_of_turn>".utf8)) { stops.insert(endOfTurn) }
        stopTokens = stops
    }

    /// The token ids of `text`, with the BOS token the file asks for and special tokens
    /// written in the text read as themselves.
    public func tokenize(_ text: String, addSpecial: Bool = true) -> [Int] { tokenizer.encode(text, addSpecial: addSpecial) }

    /// The text of `tokens`.
    public func detokenize(_ tokens: [Int], special: Bool = false) -> String { tokenizer.decode(tokens, special: special) }

    /// The vocabulary text of a token (`▁` shown as it is).
    public func piece(_ token: Int) -> String {
        guard (0..<tokenizer.vocabulary.count).contains(token) else { return "" }
        return String(decoding: tokenizer.vocabulary.text(of: token), as: UTF8.self)
    }

    /// Generates a continuation of `prompt`, calling `onPiece` with each token as it comes;
    /// `onPiece` returns `false` to stop.
    ///
    /// - Throws: `invalidArgument` when the prompt and continuation exceed the context;
    ///   `CancellationError` when the surrounding task is cancelled.
    public func generate(_ prompt: String, options: Options = Options(),
                         onPiece: (Piece) throws -> Bool = { _ in true }) throws -> Result {
        try generate(tokens: tokenize(prompt), options: options, onPiece: onPiece)
    }

    /// As ``generate(_:options:onPiece:)``, from token ids.
    public func generate(tokens promptTokens: [Int], options: Options = Options(),
                         onPiece: (Piece) throws -> Bool = { _ in true }) throws -> Result {
        guard !promptTokens.isEmpty else {
            throw WeightsError(.invalidArgument, "the prompt has no tokens", file: path)
        }
        var cache = decoder.makeCache(capacity: promptTokens.count + max(0, options.maximumTokens))
        let clock = ContinuousClock()
        let start = clock.now
        var logits: [Float] = []
        try Task.checkCancellation()
        try decoder.forward(promptTokens, cache: &cache, logits: &logits)
        let promptLogits = logits
        let promptEnd = clock.now
        var sampler = Sampler(temperature: options.temperature, topK: options.topK, topP: options.topP, seed: options.seed)
        var generated: [Int] = []
        var pending: [UInt8] = []
        var text: [UInt8] = []
        while generated.count < options.maximumTokens {
            try Task.checkCancellation()
            let token = sampler.sample(logits)
            generated.append(token)
            let isStop = stopTokens.contains(token) && !options.ignoreEndOfSequence
            if !isStop {
                pending += tokenizer.pieceBytes(of: token)
                let complete = Self.completeUTF8Prefix(pending)
                text += pending[0..<complete]
                let piece = Piece(token: token, text: String(decoding: pending[0..<complete], as: UTF8.self))
                pending.removeFirst(complete)
                if try !onPiece(piece) { break }
            }
            if isStop || generated.count == options.maximumTokens { break }
            try decoder.forward([token], cache: &cache, logits: &logits)
        }
        text += pending
        let end = clock.now
        return Result(promptTokens: promptTokens, tokens: generated, text: String(decoding: text, as: UTF8.self),
                      promptLogits: promptLogits, promptSeconds: (promptEnd - start).seconds,
                      generationSeconds: (end - promptEnd).seconds)
    }

    /// The continuation of `prompt` as an asynchronous sequence of pieces; cancelling the
    /// consuming task stops the generation.
    public func stream(_ prompt: String, options: Options = Options()) -> AsyncThrowingStream<Piece, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached { [self] in
                do {
                    _ = try self.generate(prompt, options: options) { piece in
                        if case .terminated = continuation.yield(piece) { return false }
                        return !Task.isCancelled
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence.
    static func completeUTF8Prefix(_ bytes: [UInt8]) -> Int {
        var index = bytes.count
        var back = 0
        while index > 0, back < 4 {
            let byte = bytes[index - 1]
            if byte & 0xC0 == 0x80 { index -= 1; back += 1; continue }
            let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
            return length > back + 1 ? index - 1 : bytes.count
        }
        return bytes.count  // no lead byte: nothing to wait for
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
