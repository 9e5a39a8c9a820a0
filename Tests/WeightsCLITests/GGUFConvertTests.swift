import Foundation
import Testing
import Weights

/// `weights convert` between GGUF and safetensors, run as a user runs it.
@Suite struct GGUFConvertTests {
    func fixture(_ name: String) -> String { packagePath("Fixtures/gguf/" + name) }

    @Test func ggufToSafetensorsToQuantizedGGUF() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let safetensors = directory + "/model.safetensors"
        var result = try runWeights(["convert", fixture("blocks-a64.gguf"), safetensors])
        #expect(result.status == 0, "\(result.standardError)")
        let middle = try SafetensorsFile(path: safetensors)
        // Dequantized to F32 by default, shapes row-major, typed metadata kept.
        #expect(middle.tensors.allSatisfy { $0.dtype == .f32 })
        #expect(try middle.tensor(named: "q4_k").shape == [2, 256])
        let json = try #require(middle.metadata?["gguf.metadata"])
        #expect(json.contains(#""general.alignment":{"type":"UINT32","value":64}"#))
        let original = try GGUFFile(path: fixture("blocks-a64.gguf"))
        #expect(try middle.tensor(named: "q6_k").floats() == original.tensor(named: "q6_k").dequantized())
        // inspect's table shortens a long JSON value; --json keeps it whole.
        let many = directory + "/metadata.safetensors"
        #expect(try runWeights(["convert", fixture("metadata.gguf"), many]).status == 0)
        let table = try runWeights(["inspect", many])
        let line = try #require(table.standardOutput.split(separator: "\n").first { $0.hasPrefix("  gguf.metadata: ") })
        #expect(line.count < 250 && line.hasSuffix("bytes; --json shows it whole)"))
        let whole = try runWeights(["inspect", many, "--json"])
        #expect(whole.standardOutput.contains("test.array_nested_strings"))

        let gguf = directory + "/model-q4_k.gguf"
        result = try runWeights(["convert", safetensors, gguf, "--dtype", "q4_k"])
        #expect(result.status == 0, "\(result.standardError)")
        let file = try GGUFFile(path: gguf)
        #expect(file.alignment == 64)
        #expect(file.metadata["general.architecture"] == .string("fixture"))
        #expect(file.metadata["general.file_type"] == .uint32(14))
        #expect(file.tensors.allSatisfy { $0.type == .q4_K })
        #expect(try file.tensor(named: "q8_0").copyBytes() == GGMLQuantizer.quantize(try middle.tensor(named: "q8_0").floats(), as: .q4_K))

        // --dtype f16 from GGUF to safetensors.
        result = try runWeights(["convert", fixture("blocks-a64.gguf"), directory + "/half.safetensors", "--dtype", "f16"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try SafetensorsFile(path: directory + "/half.safetensors").tensors.allSatisfy { $0.dtype == .f16 })
    }

    /// GGUF to GGUF requantizes and keeps every key.
    @Test func ggufToQuantizedGGUFKeepsTheMetadata() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = directory + "/q8.gguf"
        let result = try runWeights(["convert", fixture("blocks-a64.gguf"), out, "--dtype", "q8_0"])
        #expect(result.status == 0, "\(result.standardError)")
        let original = try GGUFFile(path: fixture("blocks-a64.gguf"))
        let file = try GGUFFile(path: out)
        for (key, value) in original.metadata { #expect(file.metadata[key] == value, "\(key)") }
        #expect(file.tensors.map(\.name) == original.tensors.map(\.name))
        #expect(file.tensors.allSatisfy { $0.type == .q8_0 })
        #expect(try file.tensor(named: "q6_k").copyBytes()
                == GGMLQuantizer.quantize(try original.tensor(named: "q6_k").dequantized(), as: .q8_0))
    }

    @Test func safetensorsToGGUFWithArchitectureAndTypes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let values = (0..<(2 * 64)).map { Float($0) / 16 - 4 }
        let input = directory + "/in.safetensors"
        try SafetensorsWriter.write([
            try Tensor(name: "w", dtype: .f32, shape: [2, 64], bytes: unsafe values.withUnsafeBytes { unsafe Array($0) }),
            try Tensor(name: "b", dtype: .f32, shape: [64], bytes: unsafe values[0..<64].withUnsafeBytes { unsafe Array($0) }),
        ], metadata: nil, to: input)
        for dtype in ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "mxfp4", "q6_k", "f16", "bf16", "f32"] {
            let out = directory + "/out-\(dtype).gguf"
            let result = try runWeights(["convert", input, out, "--dtype", dtype, "--architecture", "llama"])
            #expect(result.status == 0, "\(dtype): \(result.standardError)")
            let file = try GGUFFile(path: out)
            #expect(file.metadata["general.architecture"] == .string("llama"))
            let expected: GGMLType = dtype == "q6_k" ? .q8_0 : try #require(GGMLType(name: dtype))   // 64 is not whole Q6_K blocks
            #expect(file.tensorInfo(named: "w")?.type == expected, "\(dtype)")
            #expect(file.tensorInfo(named: "b")?.type == .f32)
            #expect(try file.tensor(named: "w").copyBytes() == GGMLQuantizer.quantize(values, as: expected))
        }
    }

    @Test(arguments: [
        (["--dtype", "q2_k"], "unknown dtype 'q2_k' for a GGUF output"),
        (["--dtype", "int8"], "unknown dtype 'int8' for a GGUF output"),
        (["--shard-size", "1MB"], "a .gguf output is one file"),
    ])
    func badGGUFOptions(arguments: [String], message: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try runWeights(["convert", fixture("blocks-a64.gguf"), directory + "/x.gguf"] + arguments)
        #expect(result.status != 0)
        #expect(result.standardError.contains(message), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/x.gguf"))
    }

    @Test func aTensorGGUFCannotHoldNamesIt() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = directory + "/flags.safetensors"
        try SafetensorsWriter.write([try Tensor(name: "mask", dtype: .bool, shape: [2], bytes: [1, 0])], metadata: nil, to: input)
        let result = try runWeights(["convert", input, directory + "/x.gguf"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("mask") && result.standardError.contains("BOOL"), "\(result.standardError)")
    }
}
