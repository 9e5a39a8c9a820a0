import WeightsPlatform
import Weights
import WeightsEngine

extension FuzzHarness {
    /// The files of a model directory that the engine reads, in the order of the selector byte.
    /// The last three are read only when there is no `tokenizer.json` (a BERT `vocab.txt`
    /// directory): picking one of them removes `tokenizer.json` for that input.
    public static let modelFiles = ["config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json",
                                    "1_Pooling/config.json", "model.safetensors",
                                    "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]

    /// The files read instead of `tokenizer.json` when it is absent.
    static let vocabularyFiles: Set<String> = ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]

    /// A model directory: the input's first byte (modulo the count) picks one of
    /// ``modelFiles``, the rest of the input becomes that file, and every other file is a small
    /// valid model's (Fixtures/tiny-bert, with the tokenizer of Fixtures/minilm, or its
    /// vocabulary as a `vocab.txt`). The directory is loaded as `weights embed` loads it, and
    /// one short text is embedded.
    static func modelDirectory(_ input: UnsafeRawBufferPointer) throws {
        guard let selector = unsafe input.first else { return }
        let name = modelFiles[Int(selector) % modelFiles.count]
        let directory = try ModelFixture.prepare()
        unsafe try Scratch.write(UnsafeRawBufferPointer(rebasing: input.dropFirst()), to: "model/" + name)
        defer { try? ModelFixture.restore(name) }
        if vocabularyFiles.contains(name) {
            unsafe unlink(directory + "/tokenizer.json")
        }
        defer { if vocabularyFiles.contains(name) { try? ModelFixture.restore("tokenizer.json") } }
        let embedder = try rejecting("load \(name)") { try SentenceEmbedder(modelDirectory: directory, threads: 1) }
        let vectors = try WeightsError.tagging(file: directory) { try embedder.embed(["Hello, world!"]) }
        try expect(vectors.count == 1 && vectors[0].count == embedder.dimension,
                   "one text gives \(vectors.count) vectors of \(vectors.first?.count ?? 0) floats, not one of \(embedder.dimension)")
    }

    /// The valid model directory, written once per process.
    enum ModelFixture {
        nonisolated(unsafe) static var baseline: [String: [UInt8]] = [:]

        static func prepare() throws -> String {
            if unsafe baseline.isEmpty {
                unsafe baseline = [
                    "config.json": try Fixtures.bytes("tiny-bert/config.json"),
                    "model.safetensors": try Fixtures.bytes("tiny-bert/model.safetensors"),
                    "tokenizer.json": try Fixtures.bytes("minilm/added_tokens_tokenizer.json"),
                    "modules.json": Array(#"""
                        [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                         {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                         {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
                        """#.utf8),
                    "sentence_bert_config.json": Array(#"{"max_seq_length": 32, "do_lower_case": false}"#.utf8),
                    // The tokenizer.json's WordPiece vocabulary, one token a line by id.
                    "vocab.txt": Array(("[PAD] [UNK] [CLS] [SEP] [MASK] a b c x y w l r < > hello world ##b ##c ##y ##w ##l ##r ##lo 1 _"
                        .split(separator: " ").joined(separator: "\n") + "\n").utf8),
                    "tokenizer_config.json": Array(#"{"do_lower_case": true, "model_max_length": 32}"#.utf8),
                    "special_tokens_map.json": Array(#"""
                        {"unk_token": "[UNK]", "cls_token": {"content": "[CLS]"}, "sep_token": "[SEP]",
                         "pad_token": "[PAD]", "mask_token": "[MASK]"}
                        """#.utf8),
                    "1_Pooling/config.json": Array(#"""
                        {"word_embedding_dimension": 32, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
                         "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}
                        """#.utf8),
                ]
                for name in modelFiles { try restore(name) }
            }
            return Scratch.directory + "/model"
        }

        static func restore(_ name: String) throws {
            unsafe try Scratch.write(baseline[name]!, to: "model/" + name)
        }
    }
}
