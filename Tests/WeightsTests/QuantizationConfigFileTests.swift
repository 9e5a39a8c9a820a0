import Foundation
import Testing
import Weights
import WeightsTestSupport

/// `config.json`'s `quantization_config`, as compressed-tensors 0.20.1 writes it
/// (Fixtures/quantized/writer-config-*.json, `make_writer_fixtures.py`), set without touching
/// the rest of the file.
@Suite struct QuantizationConfigFileTests {
    static let directory = packagePath("Fixtures/quantized")
    /// A transformers config.json: sorted keys, nested values, numbers in several forms.
    static let config = """
        {
          "architectures": [
            "BertModel"
          ],
          "hidden_size": 384,
          "id2label": {},
          "layer_norm_eps": 1e-12,
          "model_type": "bert",
          "torch_dtype": "float32",
          "use_cache": true
        }

        """

    static func parse(_ text: String) throws -> JSONValue {
        unsafe try Array(text.utf8).withUnsafeBytes { unsafe try JSONValue.parse($0, unit: "byte") }
    }

    static func reference(_ name: String) throws -> JSONValue {
        try parse(String(decoding: try #require(FileManager.default.contents(atPath: directory + "/\(name)")), as: UTF8.self))
    }

    static func members(_ value: JSONValue) -> [(String, JSONValue)] {
        if case .object(let members) = value { return members }
        return []
    }

    @Test(arguments: [(HubQuantizer.Scheme.int4(groupSize: 128), "writer-config-int4.json"),
                      (.fp8PerChannel, "writer-config-fp8.json")])
    func writesTheReferenceConfiguration(scheme: HubQuantizer.Scheme, reference: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/config.json"
        try Data(Self.config.utf8).write(to: URL(fileURLWithPath: path))
        let written = try QuantizationConfigFile.update(from: path, to: path,
                                                        quantizationConfig: HubQuantizer.configJSON(scheme, ignore: ["lm_head"]))
        #expect(written)
        let text = String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
        let updated = try Self.parse(text)
        #expect(updated[QuantizationConfigFile.key] == (try Self.reference(reference)))
        // The other members are kept, in order, and the new one sorts among them.
        let original = Self.members(try Self.parse(Self.config))
        let keys = Self.members(updated).map(\.0)
        #expect(keys == ["architectures", "hidden_size", "id2label", "layer_norm_eps", "model_type",
                         "quantization_config", "torch_dtype", "use_cache"])
        #expect(Self.members(updated).filter { $0.0 != QuantizationConfigFile.key }.elementsEqual(original) { $0.0 == $1.0 && $0.1 == $1.1 })
        // Laid out as transformers lays it out; the untouched lines are the input's.
        #expect(text.hasPrefix("{\n  \"architectures\": [\n    \"BertModel\"\n  ],\n  \"hidden_size\": 384,\n  \"id2label\": {},\n"))
        #expect(text.contains("\n  \"layer_norm_eps\": 1e-12,\n") && text.hasSuffix("\n  \"use_cache\": true\n}\n"))
        #expect(text.contains("\n  \"quantization_config\": {\n    \"config_groups\": {\n      \"group_0\": {\n"))
        // Asking again changes nothing and writes nothing.
        #expect(try !QuantizationConfigFile.update(from: path, to: path,
                                                   quantizationConfig: HubQuantizer.configJSON(scheme, ignore: ["lm_head"])))
    }

    @Test func replacesAndRemovesInPlace() throws {
        let int4 = try Self.parse(HubQuantizer.configJSON(.int4(groupSize: 32), ignore: []))
        let fp8 = try Self.parse(HubQuantizer.configJSON(.fp8PerChannel, ignore: ["lm_head"]))
        let unsorted = try Self.parse(#"{"b":1,"a":[1,2.50],"c":null}"#)
        let added = try QuantizationConfigFile.updating(unsorted, with: int4)
        #expect(Self.members(added).map(\.0) == ["b", "a", "c", "quantization_config"])
        let replaced = try QuantizationConfigFile.updating(added, with: fp8)
        #expect(Self.members(replaced).map(\.0) == ["b", "a", "c", "quantization_config"])
        #expect(replaced[QuantizationConfigFile.key] == fp8)
        #expect(try QuantizationConfigFile.updating(replaced, with: nil) == unsorted)
        #expect(added.indented() == "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2.50\n  ],\n  \"c\": null,\n  \"quantization_config\": "
                + int4.indented().replacingOccurrences(of: "\n", with: "\n  ") + "\n}")
        #expect(throws: WeightsError.self) { try QuantizationConfigFile.updating(.array([]), with: fp8) }
    }

    @Test func aFileThatIsNotJSONIsNamed() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/config.json"
        try Data("{\"a\": }".utf8).write(to: URL(fileURLWithPath: path))
        #expect { try QuantizationConfigFile.update(from: path, to: directory + "/out.json", quantizationConfig: nil) }
            throws: { ($0 as? WeightsError)?.file == path }
        #expect(!FileManager.default.fileExists(atPath: directory + "/out.json"))
    }
}
