import Foundation
import Testing
import Weights
import WeightsTestSupport

/// `weights convert --dtype int4|f8_e4m3` and `weights inspect` of the hub's quantized layouts,
/// run as a user runs them, on Fixtures/quantized.
@Suite struct QuantizedCLITests {
    static let directory = packagePath("Fixtures/quantized")
    static let input = directory + "/writer-input.safetensors"
    /// The three Linear weights of the input: 64 × 256, 32 × 384 and 48 × 128 entries.
    static let weights = 64 * 256 + 32 * 384 + 48 * 128

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(arguments: [
        // INT4: half a byte a weight; scales BF16 64 × 2, F16 32 × 3, F32 48 × 1.
        ("int4", "compressed-tensors pack-quantized int4, symmetric, group 128", weights / 2 + 64 * 2 * 2 + 32 * 3 * 2 + 48 * 4),
        // FP8: a byte a weight; one scale a row, in the weight's dtype.
        ("f8_e4m3", "compressed-tensors float-quantized f8_e4m3, per channel", weights + 64 * 2 + 32 * 2 + 48 * 4),
    ])
    func convertThenInspectNamesTheScheme(dtype: String, scheme: String, storedBytes: Int) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/out.safetensors"
        let convert = try runWeights(["convert", Self.input, output, "--dtype", dtype, "--report", "--json"])
        #expect(convert.status == 0, "\(convert.standardError)")
        let report = try Self.object(convert.standardOutput)
        let tensors = try #require(report["tensors"] as? [[String: Any]])
        #expect(tensors.count == 3)
        #expect(tensors.allSatisfy { ($0["cosine"] as? Double ?? 0) > 0.98 })
        // Each weight is labelled with its scheme, beside the stored values' dtype.
        let label = dtype == "int4" ? "int4 (group 128)" : "f8_e4m3 (per channel)"
        #expect(tensors.allSatisfy { $0["scheme"] as? String == label && $0["dtype"] as? String == (dtype == "int4" ? "I32" : "F8_E4M3") })
        let text = try runWeights(["convert", Self.input, directory + "/again.safetensors", "--dtype", dtype, "--report"])
        let rows = text.standardOutput.split(separator: "\n").filter { $0.hasPrefix("model.layers.0.") }
        #expect(rows.count == 3 && rows.allSatisfy { $0.contains(" \(label) ") && !$0.contains("I32") }, "\(text.standardOutput)")

        let table = try runWeights(["inspect", output])
        #expect(table.status == 0)
        let bits = Double(storedBytes * 8) / Double(Self.weights)
        let line = table.standardOutput.split(separator: "\n").first { $0.hasPrefix("quantized: ") }
        #expect(line?.hasPrefix("quantized: \(scheme): 3 layers, \(Self.weights) weights, ") == true, "\(table.standardOutput)")
        #expect(line?.contains(String((bits * 1000).rounded() / 1000) + " bits per weight") == true, "\(line ?? "")")

        let json = try runWeights(["inspect", output, "--json"])
        let summaries = try #require(try Self.object(json.standardOutput)["quantization"] as? [[String: Any]])
        #expect(summaries.count == 1)
        #expect(summaries.first?["scheme"] as? String == scheme)
        #expect(summaries.first?["layers"] as? Int == 3)
        #expect(summaries.first?["weights"] as? Int == Self.weights)
        #expect(summaries.first?["stored_bytes"] as? Int == storedBytes)
        #expect(summaries.first?["bits_per_weight"] as? Double == bits)
    }

    /// A model directory converted to int4 or f8_e4m3 gets the quantization_config
    /// compressed-tensors writes, in config.json beside the weights, the other keys kept;
    /// dequantizing it again takes the entry out.
    @Test(arguments: [("int4", "writer-config-int4.json"), ("f8_e4m3", "writer-config-fp8.json")])
    func configurationFollowsTheWeights(dtype: String, reference: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let model = directory + "/model", quantized = directory + "/quantized", plain = directory + "/plain"
        for path in [model, quantized, plain] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        try FileManager.default.copyItem(atPath: Self.input, toPath: model + "/model.safetensors")
        let config = #"{"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "rms_norm_eps": 1e-06, "torch_dtype": "bfloat16"}"#
        try Data(config.utf8).write(to: URL(fileURLWithPath: model + "/config.json"))

        let convert = try runWeights(["convert", model, quantized + "/model.safetensors", "--dtype", dtype])
        #expect(convert.status == 0, "\(convert.standardError)")
        #expect(convert.standardError.contains("wrote quantization_config in \(quantized)/config.json"))
        let written = try Self.object(String(decoding: try #require(FileManager.default.contents(atPath: quantized + "/config.json")), as: UTF8.self))
        let expected = try Self.object(String(decoding: try #require(FileManager.default.contents(atPath: Self.directory + "/" + reference)), as: UTF8.self))
        #expect((written["quantization_config"] as? NSDictionary) == (expected as NSDictionary))
        var rest = written
        rest["quantization_config"] = nil
        #expect((rest as NSDictionary) == (try Self.object(config) as NSDictionary))
        // The input's own config.json is left alone.
        #expect(FileManager.default.contents(atPath: model + "/config.json") == Data(config.utf8))

        let back = try runWeights(["convert", quantized, plain + "/model.safetensors", "--dtype", "f32"])
        #expect(back.status == 0, "\(back.standardError)")
        let restored = try Self.object(String(decoding: try #require(FileManager.default.contents(atPath: plain + "/config.json")), as: UTF8.self))
        #expect((restored as NSDictionary) == (try Self.object(config) as NSDictionary))
        // A file converted into a directory without a config.json writes none.
        let lone = try runWeights(["convert", Self.input, directory + "/lone.safetensors", "--dtype", dtype])
        #expect(lone.status == 0 && !FileManager.default.fileExists(atPath: directory + "/config.json"))
    }

    @Test func groupSizeIsAnInt4Option() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/out.safetensors"
        let convert = try runWeights(["convert", Self.input, output, "--dtype", "int4", "--group-size", "32"])
        #expect(convert.status == 0, "\(convert.standardError)")
        let inspect = try runWeights(["inspect", output])
        #expect(inspect.standardOutput.contains("quantized: compressed-tensors pack-quantized int4, symmetric, group 32: 3 layers"))
        let refused = try runWeights(["convert", Self.input, output, "--dtype", "f16", "--group-size", "32"])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("--group-size is for --dtype int4"))
    }

    /// Every reading scheme converts with --report: each layer dequantized, then cast.
    @Test(arguments: ["compressed-tensors", "deepseek-fp8"], ["f32", "f16", "int4", "f8_e4m3"])
    func reportWorksForEveryScheme(file: String, dtype: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = Self.directory + "/\(file).safetensors"
        let convert = try runWeights(["convert", source, directory + "/out.safetensors", "--dtype", dtype, "--report", "--json"])
        #expect(convert.status == 0, "\(convert.standardError)")
        let report = try Self.object(convert.standardOutput)
        let tensors = try #require(report["tensors"] as? [[String: Any]])
        // Neither file has a Linear weight whose rows split into groups of 128: int4 keeps them all.
        #expect(tensors.isEmpty == (dtype == "int4"))
        #expect(tensors.allSatisfy { $0["count"] as? Int ?? 0 > 0 })
    }

    @Test func inspectNamesTheReadSchemes() throws {
        let mixed = try runWeights(["inspect", Self.directory + "/compressed-tensors.safetensors"])
        #expect(mixed.status == 0)
        for scheme in ["compressed-tensors pack-quantized int4, symmetric, group 32: 1 layer,",
                       "compressed-tensors pack-quantized int4, asymmetric, group 16: 1 layer,",
                       "compressed-tensors pack-quantized int4, symmetric, per channel: 1 layer,",
                       "compressed-tensors pack-quantized int8, asymmetric, per channel: 1 layer,",
                       "compressed-tensors float-quantized f8_e4m3, 128×128 blocks: 1 layer,"] {
            #expect(mixed.standardOutput.contains("quantized: " + scheme), "\(scheme)")
        }
        let deepseek = try runWeights(["inspect", Self.directory + "/deepseek-fp8.safetensors"])
        // 200 × 300 bytes of F8_E4M3 and 2 × 3 F32 scales.
        let bits = Double((200 * 300 + 6 * 4) * 8) / Double(200 * 300)
        #expect(deepseek.standardOutput.contains(
            "quantized: DeepSeek-V3 f8_e4m3, 128×128 blocks (weight_scale_inv): 1 layer, 60000 weights, \((bits * 1000).rounded() / 1000) bits per weight"),
            "\(deepseek.standardOutput)")
    }
}
