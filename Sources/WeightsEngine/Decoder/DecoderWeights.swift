import WeightsCore

/// A decoder's weights, as views of a GGUF file's tensors: matrices stay in their blocks,
/// norms (a few thousand floats) are widened once.
///
/// Names follow llama.cpp's GGUF convention (`blk.N.attn_q.weight`, …). Gemma's converter
/// stores each RMSNorm weight as 1 + w, so the norms are used as they are.
package struct DecoderWeights: Sendable {
    package struct Layer: Sendable {
        package var attentionNorm: [Float]
        package var query: QuantizedMatrix
        package var key: QuantizedMatrix
        package var value: QuantizedMatrix
        package var output: QuantizedMatrix
        /// Per-head RMSNorm of queries and keys (Gemma 3), or `nil`.
        package var queryNorm: [Float]?
        package var keyNorm: [Float]?
        /// The norm applied to the attention's output before the residual (Gemma), or `nil`.
        package var postAttentionNorm: [Float]?
        package var feedForwardNorm: [Float]
        package var gate: QuantizedMatrix
        package var up: QuantizedMatrix
        package var down: QuantizedMatrix
        /// The norm applied to the feed-forward's output before the residual (Gemma), or `nil`.
        package var postFeedForwardNorm: [Float]?
    }

    package var embedding: QuantizedMatrix
    package var layers: [Layer]
    package var outputNorm: [Float]
    /// The output head: `output.weight`, or the embedding when the file ties them.
    package var output: QuantizedMatrix

    /// Finds every tensor `configuration` needs in `file` and checks its shape.
    ///
    /// - Throws: `invalidData` naming the tensor that is missing or has the wrong shape.
    package init(gguf file: GGUFFile, configuration c: DecoderConfiguration) throws {
        func matrix(_ name: String, rows: Int, columns: Int) throws -> QuantizedMatrix {
            let matrix = try QuantizedMatrix(Self.tensor(name, in: file))
            guard matrix.rows == rows, matrix.columns == columns else {
                throw WeightsError(.invalidData,
                    "tensor '\(name)' is \(matrix.rows) × \(matrix.columns), expected \(rows) × \(columns)",
                    file: file.path, tensor: name)
            }
            return matrix
        }
        func vector(_ name: String, count: Int) throws -> [Float] {
            let tensor = try Self.tensor(name, in: file)
            guard tensor.elementCount == count, tensor.dimensions.count == 1 else {
                throw WeightsError(.invalidData, "tensor '\(name)' has shape \(tensor.shape), expected [\(count)]",
                                   file: file.path, tensor: name)
            }
            return try tensor.dequantized()
        }
        func optionalVector(_ name: String, count: Int) throws -> [Float]? {
            file.tensorInfo(named: name) == nil ? nil : try vector(name, count: count)
        }
        let d = c.hiddenSize, q = c.headCount * c.headSize, kv = c.keyValueHeadCount * c.headSize
        embedding = try matrix("token_embd.weight", rows: c.vocabularySize, columns: d)
        layers = try (0..<c.layerCount).map { i in
            let p = "blk.\(i)."
            return Layer(
                attentionNorm: try vector(p + "attn_norm.weight", count: d),
                query: try matrix(p + "attn_q.weight", rows: q, columns: d),
                key: try matrix(p + "attn_k.weight", rows: kv, columns: d),
                value: try matrix(p + "attn_v.weight", rows: kv, columns: d),
                output: try matrix(p + "attn_output.weight", rows: d, columns: q),
                queryNorm: try optionalVector(p + "attn_q_norm.weight", count: c.headSize),
                keyNorm: try optionalVector(p + "attn_k_norm.weight", count: c.headSize),
                postAttentionNorm: try optionalVector(p + "post_attention_norm.weight", count: d),
                feedForwardNorm: try vector(p + "ffn_norm.weight", count: d),
                gate: try matrix(p + "ffn_gate.weight", rows: c.feedForwardSize, columns: d),
                up: try matrix(p + "ffn_up.weight", rows: c.feedForwardSize, columns: d),
                down: try matrix(p + "ffn_down.weight", rows: d, columns: c.feedForwardSize),
                postFeedForwardNorm: try optionalVector(p + "post_ffw_norm.weight", count: d))
        }
        outputNorm = try vector("output_norm.weight", count: d)
        output = file.tensorInfo(named: "output.weight") == nil
            ? embedding : try matrix("output.weight", rows: c.vocabularySize, columns: d)
    }

    private static func tensor(_ name: String, in file: GGUFFile) throws -> GGUFTensor {
        do { return try file.tensor(named: name) } catch { throw error.in(file: file.path) }
    }
}
