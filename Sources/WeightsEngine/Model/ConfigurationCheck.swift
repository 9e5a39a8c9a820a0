import WeightsCore

/// Checks a `config.json` against the weights it describes before anything is sized from it.
///
/// Every buffer the encoder allocates is sized from the configuration (activations are
/// tokens × `hidden_size`, the layer list is `num_hidden_layers` long). The configuration is
/// a small text file that can claim anything; the tensors' shapes are checked against the
/// file that holds them. So before any allocation, each size in the configuration must equal
/// the matching dimension of a tensor (Spec/limits.md):
///
/// | key | tensor dimension |
/// |---|---|
/// | `vocab_size`, `hidden_size` | `embeddings.word_embeddings.weight` `[vocab_size, hidden_size]` |
/// | `max_position_embeddings` | `embeddings.position_embeddings.weight` `[max_position_embeddings, hidden_size]` |
/// | `type_vocab_size` | `embeddings.token_type_embeddings.weight` `[type_vocab_size, hidden_size]` |
/// | `intermediate_size` | `encoder.layer.0.intermediate.dense.weight` `[intermediate_size, hidden_size]` |
/// | `num_hidden_layers` | `encoder.layer.N.attention.self.query.weight` exists for N = `num_hidden_layers` − 1 (more layers in the file are ignored, as `transformers` ignores them) |
enum ConfigurationCheck {
    /// - Throws: `invalidArgument` naming the key, its value and the tensor that disagrees
    ///   (the caller names the file); `tensorNotFound` for a missing tensor.
    static func check(_ configuration: BertConfiguration, against source: any TensorSource, prefix: String) throws {
        let infos = Dictionary(source.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func shape(_ name: String) throws -> [Int] {
            guard let info = infos[prefix + name] else {
                throw WeightsError(.tensorNotFound, "no tensor named '\(prefix + name)'", file: source.path, tensor: prefix + name)
            }
            return info.shape
        }
        func expect(_ name: String, _ keys: [(key: String, value: Int)]) throws {
            let actual = try shape(name)
            let claimed = keys.map(\.value)
            guard actual != claimed else { return }
            let described = keys.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            throw WeightsError(.invalidArgument,
                "\(described) disagree with tensor '\(prefix + name)' of shape \(actual) in \(source.path)",
                tensor: prefix + name)
        }
        let hidden = ("hidden_size", configuration.hiddenSize)
        try expect("embeddings.word_embeddings.weight", [("vocab_size", configuration.vocabularySize), hidden])
        try expect("embeddings.position_embeddings.weight", [("max_position_embeddings", configuration.maximumPositions), hidden])
        try expect("embeddings.token_type_embeddings.weight", [("type_vocab_size", configuration.tokenTypeCount), hidden])
        try expect("encoder.layer.0.intermediate.dense.weight", [("intermediate_size", configuration.intermediateSize), hidden])
        let last = "encoder.layer.\(configuration.layerCount - 1).attention.self.query.weight"
        guard infos[prefix + last] != nil else {
            throw WeightsError(.invalidArgument,
                "num_hidden_layers \(configuration.layerCount) disagrees with the weights: \(source.path) has no tensor '\(prefix + last)'",
                tensor: prefix + last)
        }
    }
}
