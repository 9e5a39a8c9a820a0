import Foundation
import Testing
import Weights
import WeightsEngine
import WeightsTestSupport

/// The encoder on a tiny random BERT (Fixtures/tiny-bert) against PyTorch's hidden states,
/// and every way its inputs can be wrong.
@Suite struct BertEncoderTests {
    static let fixture = repositoryRoot + "/Fixtures/tiny-bert"

    struct Expected: Decodable {
        let inputIDs: [[Int32]]
        let lastHiddenState: [[Float]]
        enum CodingKeys: String, CodingKey {
            case inputIDs = "input_ids"
            case lastHiddenState = "last_hidden_state"
        }
    }

    static let expected = try! JSONDecoder().decode(
        Expected.self, from: FileManager.default.contents(atPath: fixture + "/expected.json")!)

    @Test func configurationComesFromConfigJSON() throws {
        let configuration = try BertConfiguration(contentsOf: Self.fixture + "/config.json")
        #expect(configuration.hiddenSize == 32)
        #expect(configuration.headCount == 4)
        #expect(configuration.headSize == 8)
        #expect(configuration.layerCount == 2)
        #expect(configuration.intermediateSize == 48)
        #expect(configuration.vocabularySize == 97)
        #expect(configuration.maximumPositions == 40)
        #expect(configuration.layerNormEpsilon == 1e-5)
    }

    @Test(arguments: [1, 2])
    func hiddenStatesMatchPyTorch(threads: Int) throws {
        let encoder = try BertEncoder(modelDirectory: Self.fixture)
        let states = try encoder.hiddenStates(Self.expected.inputIDs, threads: threads)
        for (index, (got, want)) in zip(states, Self.expected.lastHiddenState).enumerated() {
            try #require(got.count == want.count)
            let error = zip(got, want).map { abs($0 - $1) }.max()!
            #expect(error < 2e-5, "sequence \(index): max |Weights - PyTorch| = \(error)")
        }
    }

    @Test func bertPrefixedNamesLoadTheSameModel() throws {
        let directory = try TemporaryDirectory()
        let file = try SafetensorsFile(path: Self.fixture + "/model.safetensors")
        let renamed = try file.tensors.map { info in
            unsafe try file.tensor(info).withUnsafeBytes {
                unsafe try Tensor(name: "bert." + info.name, dtype: info.dtype, shape: info.shape, bytes: $0)
            }
        }
        try SafetensorsWriter.write(renamed, metadata: nil, to: directory.path + "/model.safetensors")
        try FileManager.default.copyItem(atPath: Self.fixture + "/config.json", toPath: directory.path + "/config.json")
        let prefixed = try BertEncoder(modelDirectory: directory.path)
        let plain = try BertEncoder(modelDirectory: Self.fixture)
        #expect(try prefixed.hiddenStates(Self.expected.inputIDs) == plain.hiddenStates(Self.expected.inputIDs))
    }

    /// A file may quantize some matrices and not others; each runs in its own format.
    @Test func filesMayMixFormats() throws {
        let directory = try TemporaryDirectory()
        let file = try SafetensorsFile(path: Self.fixture + "/model.safetensors")
        var tensors: [Tensor] = []
        for info in file.tensors {
            if info.name == "encoder.layer.1.intermediate.dense.weight" {
                let (values, scales) = try Int8Quantization.quantize(file.tensor(info))
                tensors += [values, scales]
            } else if info.name == "encoder.layer.1.output.dense.weight" {
                tensors.append(try Tensor(name: info.name, shape: info.shape,
                                          elements: try file.tensor(info).floats().map { Float16($0) }))
            } else {
                tensors.append(file.tensor(info))
            }
        }
        // Without the metadata that marks the file quantized, an I8 matrix is not read as one
        // half of a pair: it is refused, not guessed at from its partner's name.
        try SafetensorsWriter.write(tensors, metadata: nil, to: directory.path + "/model.safetensors")
        try FileManager.default.copyItem(atPath: Self.fixture + "/config.json", toPath: directory.path + "/config.json")
        let unmarked = #expect(throws: WeightsError.self) { try BertEncoder(modelDirectory: directory.path) }
        #expect(unmarked?.code == .dtypeMismatch && unmarked?.tensor == "encoder.layer.1.intermediate.dense.weight", "\(String(describing: unmarked))")
        try SafetensorsWriter.write(tensors, metadata: [Int8Quantization.metadataKey: Int8Quantization.scheme],
                                    to: directory.path + "/model.safetensors")
        let mixed = try BertEncoder(modelDirectory: directory.path)
        #expect(mixed.precision == .f32)
        let states = try mixed.hiddenStates(Self.expected.inputIDs)
        for (got, want) in zip(states, Self.expected.lastHiddenState) {
            let error = zip(got, want).map { abs($0 - $1) }.max()!
            #expect(error > 0 && error < 0.05, "max difference \(error)")
        }
    }

    @Test func badSequencesAreRefused() throws {
        let encoder = try BertEncoder(modelDirectory: Self.fixture)
        let cases: [([[Int32]], String)] = [
            ([[2, 3], []], "sequence 1 is empty"),
            ([[2, 97, 3]], "token id 97, outside the vocabulary of 97"),
            ([[-1]], "token id -1"),
            ([[Int32](repeating: 5, count: 41)], "41 tokens; the model takes at most 40"),
        ]
        for (sequences, message) in cases {
            let error = try #require(throws: WeightsError.self) { try encoder.hiddenStates(sequences) }
            #expect(error.code == .invalidArgument)
            #expect(error.reason.contains(message), "\(error)")
        }
        #expect(try encoder.hiddenStates([]).isEmpty)
    }

    @Test func missingTensorIsNamedWithItsFile() throws {
        let directory = try TemporaryDirectory()
        let file = try SafetensorsFile(path: Self.fixture + "/model.safetensors")
        let kept = file.tensors.filter { $0.name != "encoder.layer.1.output.dense.bias" }.map { file.tensor($0) }
        let path = directory.path + "/model.safetensors"
        try SafetensorsWriter.write(kept, metadata: nil, to: path)
        let error = try #require(throws: WeightsError.self) {
            try BertEncoder(configuration: BertConfiguration(contentsOf: Self.fixture + "/config.json"),
                            weights: SafetensorsFile(path: path))
        }
        #expect(error.code == .tensorNotFound)
        #expect(error.file == path)
        #expect(error.tensor == "encoder.layer.1.output.dense.bias")
    }

    @Test func wrongShapeIsNamedWithItsTensor() throws {
        let directory = try TemporaryDirectory()
        let file = try SafetensorsFile(path: Self.fixture + "/model.safetensors")
        let tensors = try file.tensors.map { info in
            guard info.name == "encoder.layer.0.attention.self.key.weight" else { return file.tensor(info) }
            return try Tensor(name: info.name, shape: [16, 64], elements: [Float](repeating: 0, count: 1024))
        }
        let path = directory.path + "/model.safetensors"
        try SafetensorsWriter.write(tensors, metadata: nil, to: path)
        let error = try #require(throws: WeightsError.self) {
            try BertEncoder(configuration: BertConfiguration(contentsOf: Self.fixture + "/config.json"),
                            weights: SafetensorsFile(path: path))
        }
        #expect(error.code == .invalidArgument)
        #expect(error.file == path)
        #expect(error.tensor == "encoder.layer.0.attention.self.key.weight")
        #expect(error.reason.contains("[16, 64], expected [32, 32]"))
    }

    @Test func notABertCheckpointIsRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/model.safetensors"
        try SafetensorsWriter.write([try Tensor(name: "w", shape: [1], elements: [Float(1)])], metadata: nil, to: path)
        let error = try #require(throws: WeightsError.self) {
            try BertEncoder(configuration: BertConfiguration(contentsOf: Self.fixture + "/config.json"),
                            weights: SafetensorsFile(path: path))
        }
        #expect(error.code == .tensorNotFound)
        #expect(error.reason.contains("embeddings.word_embeddings.weight"))
    }
}

/// Model-directory files that are missing, malformed, or ask for what is not supported.
@Suite struct ModelDirectoryErrorTests {
    func directory(config: String, files: [String: String] = [:]) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        try config.write(toFile: directory.path + "/config.json", atomically: true, encoding: .utf8)
        for (name, text) in files {
            let path = directory.path + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try FileManager.default.copyItem(atPath: BertEncoderTests.fixture + "/model.safetensors",
                                         toPath: directory.path + "/model.safetensors")
        return directory
    }

    var tinyConfig: String {
        try! String(contentsOfFile: BertEncoderTests.fixture + "/config.json", encoding: .utf8)
    }

    @Test(arguments: [
        ("{\"hidden_size\": 32}", WeightsError.Code.invalidArgument, "missing key \"vocab_size\""),
        ("{\"vocab_size\": \"many\"}", .invalidArgument, "unexpected value at vocab_size: expected an integer"),
        ("not json", .invalidArgument, "malformed JSON"),
    ])
    func malformedConfigIsNamed(text: String, code: WeightsError.Code, message: String) throws {
        let directory = try directory(config: text)
        let error = try #require(throws: WeightsError.self) { try BertEncoder(modelDirectory: directory.path) }
        #expect(error.code == code)
        #expect(error.file == directory.path + "/config.json")
        #expect(error.reason.contains(message), "\(error)")
    }

    @Test(arguments: [
        ("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"relu\"", WeightsError.Code.unsupportedFormat, "hidden_act 'relu'"),
        ("\"num_attention_heads\": 4", "\"num_attention_heads\": 5", .invalidArgument, "not a multiple of num_attention_heads 5"),
        ("\"hidden_size\": 32", "\"hidden_size\": 0", .invalidArgument, "hidden_size is 0"),
        ("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"gelu\", \"position_embedding_type\": \"relative_key\"", .unsupportedFormat,
         "position_embedding_type 'relative_key'"),
    ])
    func unsupportedConfigIsRefused(original: String, replacement: String, code: WeightsError.Code, message: String) throws {
        #expect(tinyConfig.contains(original))
        let directory = try directory(config: tinyConfig.replacingOccurrences(of: original, with: replacement))
        let error = try #require(throws: WeightsError.self) { try BertEncoder(modelDirectory: directory.path) }
        #expect(error.code == code)
        #expect(error.file == directory.path + "/config.json")
        #expect(error.reason.contains(message), "\(error)")
    }

    @Test func modulesAndPoolingAreFollowed() throws {
        let modules = """
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
             {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
            """
        let pooling = "{\"word_embedding_dimension\": 32, \"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": false}"
        let directory = try directory(config: tinyConfig, files: ["modules.json": modules, "1_Pooling/config.json": pooling,
                                                                  "sentence_bert_config.json": "{\"max_seq_length\": 8}"])
        let model = try EmbeddingModel(modelDirectory: directory.path)
        #expect(model.pooling == .cls)
        #expect(!model.normalizes)
        #expect(model.maximumLength == 8)
        // CLS pooling without normalization: the first token's hidden state, as it is.
        let ids = BertEncoderTests.expected.inputIDs[0]
        let states = try model.encoder.hiddenStates([ids])[0]
        #expect(try model.embed(tokenIDs: [ids]) == [Array(states.prefix(32))])
        let error = try #require(throws: WeightsError.self) { try model.embed(tokenIDs: [[Int32](repeating: 4, count: 9)]) }
        #expect(error.reason.contains("9 tokens; the model takes at most 8"))
    }

    @Test func encoderInASubdirectoryIsFound() throws {
        let directory = try TemporaryDirectory()
        let modules = """
            [{"type": "sentence_transformers.models.Transformer", "path": "0_Transformer"},
             {"type": "sentence_transformers.models.Normalize", "path": "2_Normalize"}]
            """
        try modules.write(toFile: directory.path + "/modules.json", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: BertEncoderTests.fixture, toPath: directory.path + "/0_Transformer")
        let model = try EmbeddingModel(modelDirectory: directory.path)
        #expect(model.pooling == .mean && model.normalizes)
        let vector = try model.embed(tokenIDs: [BertEncoderTests.expected.inputIDs[1]])[0]
        #expect(abs(vector.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
    }

    @Test func meanPoolingWithoutModulesAveragesTokens() throws {
        let directory = try directory(config: tinyConfig)
        let model = try EmbeddingModel(modelDirectory: directory.path)
        #expect(model.pooling == .mean && !model.normalizes && model.maximumLength == 40)
        let ids = BertEncoderTests.expected.inputIDs[0]
        let states = BertEncoderTests.expected.lastHiddenState[0]
        var mean = [Float](repeating: 0, count: 32)
        for token in 0..<ids.count {
            for j in 0..<32 { mean[j] += states[token * 32 + j] }
        }
        mean = mean.map { $0 / Float(ids.count) }
        let vector = try model.embed(tokenIDs: [ids])[0]
        #expect(zip(vector, mean).allSatisfy { abs($0 - $1) < 2e-5 })
    }

    @Test(arguments: [
        ("modules.json", "[{\"type\": \"sentence_transformers.models.Dense\", \"path\": \"2_Dense\"}]",
         WeightsError.Code.unsupportedFormat, "module 'sentence_transformers.models.Dense' is not supported"),
        ("1_Pooling/config.json", "{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": true}",
         .unsupportedFormat, "pooling_mode_mean_tokens, pooling_mode_cls_token is not supported"),
        ("1_Pooling/config.json", "{\"pooling_mode_weightedmean_tokens\": true}", .unsupportedFormat, "weightedmean"),
        ("1_Pooling/config.json", "{}", .unsupportedFormat, "no pooling mode is set"),
        ("sentence_bert_config.json", "{\"max_seq_length\": 1.5}", .invalidArgument, "max_seq_length 1.5"),
    ])
    func unsupportedPipelineIsRefused(file: String, text: String, code: WeightsError.Code, message: String) throws {
        let modules = """
            [{"type": "sentence_transformers.models.Transformer", "path": ""},
             {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}]
            """
        var files = ["modules.json": modules, "1_Pooling/config.json": "{\"pooling_mode_mean_tokens\": true}"]
        files[file] = text
        let directory = try directory(config: tinyConfig, files: files)
        let error = try #require(throws: WeightsError.self) { try EmbeddingModel(modelDirectory: directory.path) }
        #expect(error.code == code)
        #expect(error.file == directory.path + "/" + file)
        #expect(error.reason.contains(message), "\(error)")
    }
}

/// A fresh directory, removed with everything in it when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = try temporaryDirectory(prefix: "weights-engine-test")
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
