import WeightsCore
import WeightsPlatform

/// A BERT-family transformer encoder: token ids in, one hidden state per token out.
///
/// Built from a `config.json` and weights with the standard Hugging Face tensor names
/// (`embeddings.*`, `encoder.layer.N.*`, with or without a `bert.` prefix). The forward pass
/// is BERT's: word + position + token-type-0 embeddings, LayerNorm, then per layer masked
/// multi-head self-attention and a GELU feed-forward block, each followed by a residual
/// LayerNorm (post-norm).
///
/// With F32 weights nothing is copied: products read the mapped file. The encoder is
/// immutable and may be shared between threads.
///
/// ```swift
/// let encoder = try BertEncoder(modelDirectory: "all-MiniLM-L6-v2")
/// let states = try encoder.hiddenStates([[101, 7592, 102]])   // 3 × 384 floats
/// ```
package final class BertEncoder: Sendable {
    package let configuration: BertConfiguration
    /// The arithmetic of the linear layers.
    package let compute: ComputePrecision
    let embeddings: Embeddings
    let layers: [BertLayer]
    let attention: Attention
    /// The weights' source, kept to check after each forward pass that its files did not
    /// change under the mapped matrices (Spec/reading.md).
    let source: any TensorSource

    /// Loads the encoder from `source`, keeping its matrices in `precision` (`nil`: as
    /// stored; INT8 matrices in the file, and layers in the hub's quantized layouts, INT4 and
    /// FP8, stay as stored whatever is asked).
    ///
    /// - Complexity: O(1) in the weights' size for F32 (they stay mapped); a conversion pass
    ///   for F16 and INT8.
    /// - Throws: `tensorNotFound`, or `invalidArgument` for a tensor of the wrong shape, naming
    ///   the file and tensor; `dtypeMismatch` for a non-float tensor.
    ///   A configuration whose sizes disagree with the tensors' shapes is `invalidArgument`,
    ///   naming the key, before anything is sized from it (see ``ConfigurationCheck``).
    ///   With `compute` `.int8` the linear layers' weights are INT8 (quantized at load unless
    ///   the file holds them so) and their products run in integers (Spec/int8-compute.md);
    ///   `precision` must then be `nil` or `.int8` (else `invalidArgument`).
    package convenience init(configuration: BertConfiguration, weights source: any TensorSource,
                             precision: WeightPrecision? = nil, compute: ComputePrecision = .f32) throws {
        try self.init(configuration: configuration, weights: source, precision: precision, compute: compute,
                      configurationPath: nil)
    }

    init(configuration: BertConfiguration, weights source: any TensorSource, precision: WeightPrecision?,
         compute: ComputePrecision = .f32, configurationPath: String?) throws {
        BLAS.singleThreaded  // first, so that OpenBLAS's idle workers stop spinning while the model loads
        try configuration.validate()
        if compute == .int8, let precision, precision != .int8 {
            throw WeightsError(.invalidArgument,
                "INT8 arithmetic runs on INT8 weights: use precision int8 (or none), not \(precision.rawValue)",
                file: source.path)
        }
        self.configuration = configuration
        self.source = source
        self.compute = compute
        let loader = try WeightLoader(source: source, precision: precision, compute: compute)
        do {
            try ConfigurationCheck.check(configuration, against: loader.listing, prefix: loader.prefix)
        } catch let error as WeightsError {
            throw configurationPath.map { error.in(file: $0) } ?? error.in(file: source.path)
        }
        let hidden = configuration.hiddenSize
        embeddings = try Embeddings(loader, configuration)
        // The layers load on all cores: converting and packing them (INT8, F16, the hub's
        // layouts) is most of a converting load's time. The first layer's error in layer
        // order is thrown, as a load one layer after another would throw it.
        let count = configuration.layerCount
        let loaded = LockedValue<[Int: Result<BertLayer, any Error>]>([:])
        ParallelChunks.run(jobs: count, threads: ParallelChunks.availableCores, state: { () }) { _, index in
            let layer = Result { try BertLayer(loader, prefix: "encoder.layer.\(index).", configuration) }
            loaded.withLock { $0[index] = layer }
        }
        layers = try loaded.withLock { results in try (0..<count).map { try results[$0]!.get() } }
        attention = Attention(headCount: configuration.headCount, headSize: hidden / configuration.headCount)
    }

    /// Loads `config.json` and the weights (`model.safetensors`, or a sharded index) of the
    /// model in `directory`.
    package convenience init(modelDirectory directory: String, precision: WeightPrecision? = nil,
                             compute: ComputePrecision = .f32) throws {
        let configuration = try BertConfiguration(contentsOf: directory + "/config.json")
        let source = try Checkpoint.open(directory)
        try self.init(configuration: configuration, weights: source, precision: precision, compute: compute,
                      configurationPath: directory + "/config.json")
    }

    /// The format of the weight matrices (of the first layer's, for a file that mixes
    /// formats).
    package var precision: WeightPrecision { layers.first?.query.weight.precision ?? embeddings.words.precision }

    /// Bytes of weights the encoder reads (mapped or owned), scales included.
    package var weightByteCount: Int {
        embeddings.byteCount + layers.reduce(0) { $0 + $1.byteCount }
    }

    /// The last layer's hidden states of each sequence: `count × hiddenSize` floats, token
    /// after token.
    ///
    /// All sequences run as one batch, whose activations take about 6 × the result's size;
    /// feed very many sequences in slices (``EmbeddingModel`` does).
    ///
    /// - Parameter threads: how many cores to use (sequences are shared out between them).
    /// - Throws: `invalidArgument` for an empty sequence, one longer than
    ///   `maximumPositions`, or a token id outside the vocabulary.
    /// - Complexity: O(tokens × parameters + Σ length² × hidden).
    package func hiddenStates(_ sequences: [[Int32]], threads: Int = 1) throws -> [[Float]] {
        let width = configuration.hiddenSize
        let result = ResultSlots<[Float]>(count: sequences.count, initial: [])
        // Sound: `hidden` holds the group's tokenCount × width floats while `body` runs, and
        // sequence `position` is `lengths[position]` rows from `starts[position]`, inside them.
        unsafe try run(sequences, threads: threads) { indices, packed, hidden in
            for (position, index) in indices.enumerated() {
                let start = unsafe hidden + packed.starts[position] * width
                result[index] = unsafe Array(UnsafeBufferPointer(start: start, count: packed.lengths[position] * width))
            }
        }
        return result.array
    }

    /// Runs the encoder over `sequences`, split into up to `threads` groups that run in
    /// parallel, and calls `body` once per group, on that group's thread, with the indices of
    /// its sequences, the packed group, and its hidden states. Calls to `body` may overlap;
    /// they write disjoint results. Fewer groups than threads (one long sequence) share out
    /// each product's columns and the attention heads instead.
    func run(_ sequences: [[Int32]], threads: Int,
             _ body: @Sendable ([Int], PackedSequences, UnsafeMutablePointer<Float>) -> Void) throws {
        try validate(sequences)
        BLAS.singleThreaded
        let threads = max(1, threads)
        let groups = Self.shareOut(lengths: sequences.map(\.count), into: threads)
        // Sharing a product out costs a fork-join per product: for a few tokens it costs
        // more than it saves.
        let tokens = sequences.reduce(0) { $0 + $1.count }
        let inner = tokens < Self.tokensWorthSharing ? 1 : max(1, threads / max(groups.count, 1))
        Parallel.forEach(groups.count) { group in
            let indices = groups[group]
            let packed = PackedSequences(indices.lazy.map { sequences[$0] })
            let workspace = Workspace(tokens: packed.tokenCount, longest: packed.longest, configuration: configuration,
                                      weightScratch: weightScratchCount, threads: inner,
                                      integerActivations: compute == .int8)
            forward(packed, workspace, threads: inner)
            unsafe body(indices, packed, workspace.hidden)  // Sound: the workspace outlives the call.
        }
        // F32 matrices are read straight from the mapping: a weights file cut or rewritten
        // during the pass gives zeros or other numbers (with the SIGBUS guard on), so the
        // results are only returned if the files are as they were.
        try source.checkUnchanged()
    }

    /// The fewest tokens for which one group's products are shared out between threads.
    static let tokensWorthSharing = 64

    /// Splits sequence indices into at most `count` groups of nearly equal token counts
    /// (longest first, each to the lightest group), each group in index order.
    static func shareOut(lengths: [Int], into count: Int) -> [[Int]] {
        guard count > 1, lengths.count > 1 else { return lengths.isEmpty ? [] : [Array(lengths.indices)] }
        var groups = [[Int]](repeating: [], count: min(count, lengths.count))
        var loads = [Int](repeating: 0, count: groups.count)
        for index in lengths.indices.sorted(by: { lengths[$0] > lengths[$1] }) {
            let lightest = loads.indices.min { loads[$0] < loads[$1] }!
            groups[lightest].append(index)
            // Attention grows with the square of the length; weigh it in.
            loads[lightest] += lengths[index] * (1 + lengths[index] / 64)
        }
        return groups.filter { !$0.isEmpty }.map { $0.sorted() }
    }

    /// Floats of scratch that widening the largest non-F32 matrix needs (files may mix
    /// formats, so every layer is asked); none when ``MatrixProduct`` reads them as stored.
    private var weightScratchCount: Int {
        if MatrixProduct.isAccelerated { return 0 }
        return layers.flatMap(\.linears).filter { $0.weight.precision != .f32 && $0.integer == nil }
            .map { $0.weight.rows * $0.weight.columns }.max() ?? 0
    }

    private func validate(_ sequences: [[Int32]]) throws {
        for (index, sequence) in sequences.enumerated() {
            guard !sequence.isEmpty else {
                throw WeightsError(.invalidArgument, "sequence \(index) is empty")
            }
            guard sequence.count <= configuration.maximumPositions else {
                throw WeightsError(.invalidArgument,
                    "sequence \(index) has \(sequence.count) tokens; the model takes at most \(configuration.maximumPositions)")
            }
            if let bad = sequence.first(where: { $0 < 0 || Int($0) >= configuration.vocabularySize }) {
                throw WeightsError(.invalidArgument,
                    "sequence \(index) holds token id \(bad), outside the vocabulary of \(configuration.vocabularySize)")
            }
        }
    }

    /// The forward pass over a packed group; leaves the result in `workspace.hidden`.
    private func forward(_ packed: PackedSequences, _ workspace: Workspace, threads: Int) {
        // Sound: the workspace was made for this packed group and this encoder's configuration.
        unsafe embeddings.apply(packed, into: workspace.hidden)
        for layer in layers {
            layer.apply(packed, workspace, attention: attention, threads: threads)
        }
    }
}

/// Word, position and token-type embeddings, summed and normalized.
///
/// Loaded for INT8 from a float file, the word table stays as stored (mapped) and each row is
/// quantized when a token looks it up (``quantizesWordRows``): per-row INT8 depends on the row
/// alone, so a row gets the levels and scale quantizing the whole table at load gives it, and
/// opening skips a pass over the model's largest tensor (30,522 × 384 values for MiniLM).
struct Embeddings: Sendable {
    let words: WeightMatrix
    let positions: WeightMatrix
    let tokenTypes: WeightMatrix
    let norm: LayerNorm
    /// Whether a word row is rounded through per-row INT8 as it is read.
    let quantizesWordRows: Bool

    init(_ loader: WeightLoader, _ configuration: BertConfiguration) throws {
        let hidden = configuration.hiddenSize
        let wordsName = "embeddings.word_embeddings.weight"
        quantizesWordRows = loader.quantizesRowsOnRead(wordsName)
        words = try loader.matrix(wordsName, rows: configuration.vocabularySize, columns: hidden,
                                  keepingStored: quantizesWordRows)
        positions = try loader.matrix("embeddings.position_embeddings.weight",
                                      rows: configuration.maximumPositions, columns: hidden)
        tokenTypes = try loader.matrix("embeddings.token_type_embeddings.weight",
                                       rows: configuration.tokenTypeCount, columns: hidden)
        norm = try loader.layerNorm("embeddings.LayerNorm", count: hidden, epsilon: configuration.layerNormEpsilon)
    }

    var byteCount: Int { words.byteCount + positions.byteCount + tokenTypes.byteCount + 8 * norm.gamma.count }

    /// Writes word `id`'s row into `target` (`words.columns` floats), through per-row INT8 when
    /// ``quantizesWordRows``; `levels` holds as many bytes. A row holding NaN or infinity,
    /// which INT8 cannot scale (quantizing the table at load refuses the file), is kept as stored.
    func copyWordRow(_ id: Int, into target: UnsafeMutablePointer<Float>, levels: UnsafeMutablePointer<Int8>) {
        let width = words.columns
        // Sound: `target` and `levels` hold `width` elements (the caller's contract); `scale`
        // is one Float, lent for the call.
        unsafe words.copyRow(id, into: target)
        guard quantizesWordRows else { return }
        var scale: Float = 0
        let quantized: Bool = unsafe withUnsafeMutablePointer(to: &scale) { scale in
            do {
                unsafe try Int8Quantization.quantizeRows(UnsafeBufferPointer(start: target, count: width), rows: 1,
                                                         into: UnsafeMutableBufferPointer(start: levels, count: width),
                                                         scales: UnsafeMutableBufferPointer(start: scale, count: 1))
                return true
            } catch {
                return false
            }
        }
        guard quantized else { return }
        // As WeightMatrix widens an INT8 row: Float(q) × scale.
        for j in 0..<width { unsafe target[j] = unsafe Float(levels[j]) * scale }
    }

    /// Writes each token's embedding (token type 0) into `output`, one row per token.
    func apply(_ packed: PackedSequences, into output: UnsafeMutablePointer<Float>) {
        // Sound: `output` holds tokenCount rows of `width` = hidden floats (the caller's
        // contract); `row` and `position` are the two halves of the 2 × width floats allocated
        // here, written by `copyRow` before they are read, and `levels` `width` bytes. The rows
        // copied are in their tables: token type 0 (type_vocab_size ≥ 1), the token id
        // (`validate` checked it against vocab_size, the table's rows) and the offset
        // (< length ≤ max_position_embeddings, the table's rows); `copyRow` checks each too.
        let width = words.columns
        let row = UnsafeMutablePointer<Float>.allocate(capacity: 2 * width)
        defer { unsafe row.deallocate() }
        let levels = UnsafeMutablePointer<Int8>.allocate(capacity: width)
        defer { unsafe levels.deallocate() }
        let position = unsafe row + width
        unsafe tokenTypes.copyRow(0, into: row)
        for sequence in 0..<packed.count {
            for offset in 0..<packed.lengths[sequence] {
                let token = packed.starts[sequence] + offset
                let target = unsafe output + token * width
                unsafe copyWordRow(Int(packed.ids[token]), into: target, levels: levels)
                unsafe positions.copyRow(offset, into: position)
                // Added in PyTorch's order: (word + token type) + position.
                for j in 0..<width { unsafe target[j] = unsafe (target[j] + row[j]) + position[j] }
            }
        }
        unsafe norm.apply(output, rows: packed.tokenCount)
    }
}

/// One encoder layer: attention, then the feed-forward block, each with a residual LayerNorm.
struct BertLayer: Sendable {
    let query, key, value, attentionOutput: Linear
    let attentionNorm: LayerNorm
    let intermediate, output: Linear
    let outputNorm: LayerNorm

    init(_ loader: WeightLoader, prefix: String, _ configuration: BertConfiguration) throws {
        let hidden = configuration.hiddenSize, inner = configuration.intermediateSize
        let epsilon = configuration.layerNormEpsilon
        func integer(_ kind: LinearKind) -> Bool { !Self.keptInFloat.contains(kind) }
        query = try loader.linear(prefix + "attention.self.query", input: hidden, output: hidden, integer: integer(.query))
        key = try loader.linear(prefix + "attention.self.key", input: hidden, output: hidden, integer: integer(.key))
        value = try loader.linear(prefix + "attention.self.value", input: hidden, output: hidden, integer: integer(.value))
        attentionOutput = try loader.linear(prefix + "attention.output.dense", input: hidden, output: hidden,
                                            integer: integer(.attentionOutput))
        attentionNorm = try loader.layerNorm(prefix + "attention.output.LayerNorm", count: hidden, epsilon: epsilon)
        intermediate = try loader.linear(prefix + "intermediate.dense", input: hidden, output: inner,
                                         integer: integer(.intermediate))
        output = try loader.linear(prefix + "output.dense", input: inner, output: hidden, integer: integer(.output))
        outputNorm = try loader.layerNorm(prefix + "output.LayerNorm", count: hidden, epsilon: epsilon)
    }

    var linears: [Linear] { [query, key, value, attentionOutput, intermediate, output] }

    /// The six linear layers of a BERT layer.
    enum LinearKind: Hashable, CaseIterable { case query, key, value, attentionOutput, intermediate, output }

    /// The layers whose inputs stay in float under INT8 arithmetic (weight-only INT8 there),
    /// chosen by measuring, per kind, what quantizing its input costs in accuracy
    /// (Spec/int8-compute.md §4).
    static let keptInFloat: Set<LinearKind> = [.value]

    var byteCount: Int {
        linears.reduce(0) { $0 + $1.weight.byteCount + ($1.integer?.byteCount ?? 0) + 4 * $1.bias.count }
            + 8 * (attentionNorm.gamma.count + outputNorm.gamma.count)
    }

    /// One layer over a packed group, `threads` sharing out each product and the heads.
    func apply(_ packed: PackedSequences, _ w: Workspace, attention: Attention, threads: Int) {
        // Sound: `w` was made for this group (tokenCount rows of hidden width in hidden, query,
        // key, value, context and temporary, of intermediate width in intermediate, `threads`
        // × longest² scores); sequence `sequence` is `lengths[sequence]` rows from `starts`,
        // inside them. Every product's sizes are its layer's, which the loader checked against
        // the configuration the workspace is sized from.
        let tokens = packed.tokenCount
        let width = query.outputSize
        // Q, K and V share their input: quantized once, by the first that computes in INT8.
        unsafe query.apply(w.hidden, rows: tokens, into: w.query, w, threads: threads)
        unsafe key.apply(w.hidden, rows: tokens, into: w.key, w, threads: threads,
                         inputQuantized: query.integer != nil && key.integer != nil)
        unsafe value.apply(w.hidden, rows: tokens, into: w.value, w, threads: threads,
                           inputQuantized: (query.integer != nil || key.integer != nil) && value.integer != nil)
        for sequence in 0..<packed.count {
            let offset = packed.starts[sequence] * width
            unsafe attention.apply(query: w.query + offset, key: w.key + offset, value: w.value + offset,
                            length: packed.lengths[sequence], context: w.context + offset, scores: w.scores,
                            threads: threads)
        }
        unsafe attentionOutput.multiply(w.context, rows: tokens, into: w.temporary, w, threads: threads)
        unsafe Self.addResidualAndNormalize(w.temporary, bias: attentionOutput.bias, residual: w.hidden, rows: tokens, attentionNorm)

        // Sound: as above, for the feed-forward block.
        unsafe intermediate.multiply(w.hidden, rows: tokens, into: w.intermediate, w, threads: threads)
        unsafe Self.addBiasAndGELU(w.intermediate, bias: intermediate.bias, rows: tokens)
        unsafe output.multiply(w.intermediate, rows: tokens, into: w.temporary, w, threads: threads)
        unsafe Self.addResidualAndNormalize(w.temporary, bias: output.bias, residual: w.hidden, rows: tokens, outputNorm)
    }

    /// residual = LayerNorm(product + bias + residual), row by row.
    static func addResidualAndNormalize(_ product: UnsafeMutablePointer<Float>, bias: [Float],
                                        residual: UnsafeMutablePointer<Float>, rows: Int, _ norm: LayerNorm) {
        // Sound: the caller lends `rows` × width floats in `product` and `residual`, width =
        // bias.count = gamma.count = beta.count (the loader read all three with the hidden size).
        let width = bias.count
        unsafe bias.withUnsafeBufferPointer { bias in
            unsafe norm.gamma.withUnsafeBufferPointer { gamma in
                unsafe norm.beta.withUnsafeBufferPointer { beta in
                    for row in 0..<rows {
                        let sum = unsafe product + row * width, target = unsafe residual + row * width
                        for j in 0..<width { unsafe sum[j] = unsafe (sum[j] + bias[j]) + target[j] }
                        unsafe Operations.layerNorm(UnsafeMutableBufferPointer(start: sum, count: width),
                                             gamma: gamma, beta: beta, epsilon: norm.epsilon)
                        unsafe target.update(from: sum, count: width)
                    }
                }
            }
        }
    }

    /// matrix = GELU(matrix + bias), row by row.
    static func addBiasAndGELU(_ matrix: UnsafeMutablePointer<Float>, bias: [Float], rows: Int) {
        // Sound: the caller lends `rows` × bias.count floats.
        unsafe bias.withUnsafeBufferPointer { unsafe Operations.addBiasAndGELU(matrix, rows: rows, bias: $0) }
    }
}
