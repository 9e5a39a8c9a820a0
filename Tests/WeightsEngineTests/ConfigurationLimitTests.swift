import Foundation
import Testing
import Weights
import WeightsEngine

/// A `config.json` is checked against the weights' shapes, and against fixed limits, before
/// the encoder sizes anything from it (Spec/limits.md).
@Suite struct ConfigurationLimitTests {
    /// A model directory holding the default model's weights and `config` as its config.json.
    static func directory(config: String) throws -> String {
        let model = try modelDirectory()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weights-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory + "/model.safetensors", withDestinationPath: model + "/model.safetensors")
        try config.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        return directory
    }

    /// The model's own config.json with `key` set to `value` (JSON text).
    static func config(setting key: String, to value: String) throws -> String {
        let text = try String(contentsOfFile: try modelDirectory() + "/config.json", encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: "\"\(key)\"\\s*:\\s*[^,}\\n]+")
        let range = NSRange(text.startIndex..., in: text)
        #expect(pattern.numberOfMatches(in: text, range: range) == 1, "config.json has \(key)")
        return pattern.stringByReplacingMatches(in: text, range: range, withTemplate: "\"\(key)\": \(value)")
    }

    static func loadError(_ key: String, _ value: String) throws -> (WeightsError, configPath: String) {
        let directory = try directory(config: try config(setting: key, to: value))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = try #require(throws: WeightsError.self) { try BertEncoder(modelDirectory: directory) }
        return (error, directory + "/config.json")
    }

    @Test func theModelsOwnConfigurationLoads() throws {
        let directory = try Self.directory(config: try Self.config(setting: "hidden_size", to: "384"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let encoder = try BertEncoder(modelDirectory: directory)
        #expect(encoder.configuration.hiddenSize == 384)
    }

    @Test(arguments: ["1e12", "1000000000000", "16777217"])
    func aHugeSizeIsRefusedBeforeAnythingIsAllocated(value: String) throws {
        let (error, path) = try Self.loadError("hidden_size", value)
        #expect(error.file == path)
        #expect(error.description.contains("hidden_size"), "\(error)")
        #expect(error.code == .limitExceeded || error.code == .invalidArgument, "\(error)")
    }

    @Test(arguments: [
        ("hidden_size", "768", "embeddings.word_embeddings.weight"),
        ("vocab_size", "1", "embeddings.word_embeddings.weight"),
        ("max_position_embeddings", "100000", "embeddings.position_embeddings.weight"),
        ("type_vocab_size", "1000", "embeddings.token_type_embeddings.weight"),
        ("intermediate_size", "16000000", "encoder.layer.0.intermediate.dense.weight"),
        ("num_hidden_layers", "1000", "encoder.layer.999.attention.self.query.weight"),
    ])
    func aSizeThatDisagreesWithTheTensorsIsRefused(key: String, value: String, tensor: String) throws {
        let (error, path) = try Self.loadError(key, value)
        #expect(error.code == .invalidArgument, "\(error)")
        #expect(error.file == path, "\(error)")
        #expect(error.tensor == tensor, "\(error)")
        #expect(error.reason.contains("\(key) \(value)"), "\(error)")
    }
}
