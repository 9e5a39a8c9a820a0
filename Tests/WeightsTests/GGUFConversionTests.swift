import Foundation
import Testing
import Weights

/// GGUF ⇄ safetensors: the typed metadata JSON, GGUFConverter's rules, and round trips.
@Suite struct GGUFConversionTests {
    static func fixture(_ name: String) throws -> GGUFFile {
        try GGUFFile(path: packagePath("Fixtures/gguf/" + name))
    }

    static func error(_ body: () throws -> Void) -> WeightsError? {
        do { try body() } catch let error as WeightsError { return error } catch { return nil }
        return nil
    }

    @Test(arguments: ["metadata.gguf", "writer-a64.gguf", "blocks-a64.gguf"])
    func metadataJSONRoundTripsEveryValue(name: String) throws {
        let file = try Self.fixture(name)
        let entries = try GGUFMetadata.entries(fromJSON: try file.metadata.json())
        #expect(entries.map(\.key) == file.metadata.keys)
        for ((key, value), (_, original)) in zip(entries, file.metadata) {
            #expect(value == original, "key '\(key)'")
        }
    }

    /// The real file's 33 keys, with its 262,144-entry vocabulary, scores and token types.
    @Test(.enabled(if: GGUFModelTests.installed, "the Gemma GGUF is not installed: run scripts/setup"))
    func gemmaMetadataRoundTripsThroughJSON() throws {
        let file = try GGUFFile(path: try installedGemmaPath())
        let entries = try GGUFMetadata.entries(fromJSON: try file.metadata.json())
        #expect(entries.count == 33 && entries.map(\.key) == file.metadata.keys)
        for ((key, value), (_, original)) in zip(entries, file.metadata) {
            #expect(value == original, "key '\(key)'")
        }
        #expect(entries.first { $0.key == "tokenizer.ggml.tokens" }?.value.array?.count == 262_144)
    }

    @Test func metadataJSONKeepsNonFiniteFloatsAndRefusesBadText() throws {
        let path = try temporaryDirectory() + "/floats.gguf"
        let writer = try GGUFWriter(path: path, metadata: [
            ("nan", .float32(.nan)), ("inf", .float64(-.infinity)),
            ("list", .array(GGUFArray(floats: [.infinity, 1.5, -0.0]))),
        ], tensors: [])
        try writer.finish()
        let json = try GGUFFile(path: path).metadata.json()
        #expect(json.contains(#""value":"nan""#) && json.contains(#""-inf""#))
        let entries = try GGUFMetadata.entries(fromJSON: json)
        #expect(entries[0].value.double?.isNaN == true)
        #expect(entries[1].value == .float64(-.infinity))
        #expect(try entries[2].value.array?.floats().map(\.bitPattern) == [Float.infinity, 1.5, -0.0].map(\.bitPattern))
        for bad in [#"[]"#, #"{"k":"#, #"{"k":{"value":1}}"#, #"{"k":{"type":"UINT8","value":256}}"#,
                    #"{"k":{"type":"BOOL","value":1}}"#, #"{"k":{"type":"ARRAY","value":[1]}}"#,
                    #"{"k":{"type":"ARRAY","item_type":"INT8","value":["x"]}}"#, #"{"k":{"type":"NOPE","value":1}}"#] {
            #expect(Self.error { _ = try GGUFMetadata.entries(fromJSON: bad) }?.code == .invalidData, "\(bad)")
        }
    }

    /// GGUF → safetensors (f32) → GGUF (types kept): every key comes back, in order (with
    /// general.alignment added when the file had none); every tensor has its dimensions and
    /// the decoded values.
    @Test(arguments: ["blocks-a64.gguf", "metadata.gguf", "gemma-samples.gguf"])
    func ggufToSafetensorsAndBack(name: String) throws {
        let original = try Self.fixture(name)
        let directory = try temporaryDirectory()
        let safetensors = directory + "/model.safetensors"
        let source = try GGUFTensorSource(original, keepingTypedMetadata: true)
        _ = try TensorConverter(source: source, target: .float(.f32)).write(to: safetensors)
        let middle = try SafetensorsFile(path: safetensors)
        #expect(middle.metadata?[GGUFMetadata.safetensorsKey] != nil)
        for info in original.tensors {
            let tensor = try middle.tensor(named: info.name)
            #expect(tensor.shape == info.shape, "\(info.name)")
        }

        let back = directory + "/back.gguf"
        let converter = try GGUFConverter(source: Checkpoint.open(safetensors), type: nil)
        try converter.write(to: back)
        let file = try GGUFFile(path: back)
        var expectedKeys = original.metadata.keys
        if original.metadata["general.alignment"] == nil { expectedKeys.insert("general.alignment", at: 1) }
        #expect(file.metadata.keys == expectedKeys)
        for (key, value) in original.metadata {
            #expect(file.metadata[key] == value, "key '\(key)'")
        }
        #expect(file.alignment == original.alignment)
        #expect(Set(file.tensors.map(\.name)) == Set(original.tensors.map(\.name)))
        for info in original.tensors {
            let written = try #require(file.tensorInfo(named: info.name))
            #expect(written.dimensions == info.dimensions, "\(info.name)")
            let expected = try original.tensor(named: info.name).dequantized()
            let actual = try file.tensor(written).dequantized()
            #expect(actual.map(\.bitPattern) == expected.map(\.bitPattern), "\(info.name)")
        }
    }

    static func safetensorsSource(_ tensors: [(String, DType, [Int], [UInt8])], metadata: [String: String]? = nil) throws -> String {
        let path = try temporaryDirectory() + "/in.safetensors"
        try SafetensorsWriter.write(try tensors.map { try Tensor(name: $0.0, dtype: $0.1, shape: $0.2, bytes: $0.3) },
                                    metadata: metadata, to: path)
        return path
    }

    static func bytes<T>(_ values: [T]) -> [UInt8] { unsafe values.withUnsafeBytes { unsafe Array($0) } }

    /// safetensors → GGUF → safetensors, the round trip the other way: with the types kept,
    /// every tensor comes back with its name, shape and values (F32 and I32 with their bytes);
    /// through F16 or BF16, as the cast to that format gives them; through Q8_0, the matrices come back as gguf-py's dequantized blocks and the
    /// norms, which stay F32, exactly.
    @Test(arguments: [nil, GGMLType.f16, .bf16, .q8_0])
    func safetensorsToGGUFAndBack(type: GGMLType?) throws {
        var generator = SeededGenerator(seed: 29)
        let matrix = (0..<(6 * 64)).map { _ in Float(generator.nextNormal()) }
        let norm = (0..<64).map { _ in Float(generator.nextNormal()) }
        let halves = (0..<(2 * 32)).map { _ in Float16(Float(generator.nextNormal())) }
        let original = try Self.safetensorsSource([
            ("blk.0.attn_q.weight", .f32, [6, 64], Self.bytes(matrix)),
            ("blk.0.attn_norm.weight", .f32, [64], Self.bytes(norm)),
            ("blk.0.half.weight", .f16, [2, 32], Self.bytes(halves)),
            ("positions", .i32, [3], Self.bytes([Int32(1), -2, 3])),
        ])
        let directory = try temporaryDirectory()
        let gguf = directory + "/model.gguf"
        try GGUFConverter(source: Checkpoint.open(original), type: type, architecture: "llama").write(to: gguf)
        let file = try GGUFFile(path: gguf)
        let back = directory + "/back.safetensors"
        let format: FloatFormat = type == .f16 ? .f16 : type == .bf16 ? .bf16 : .f32
        _ = try TensorConverter(source: GGUFTensorSource(file, keepingTypedMetadata: true), target: .float(format)).write(to: back)
        let result = try SafetensorsFile(path: back)
        let source = try SafetensorsFile(path: original)
        #expect(Set(result.tensors.map(\.name)) == Set(source.tensors.map(\.name)))
        #expect(try GGUFFile(path: gguf).metadata.keys == GGUFMetadata.entries(
            fromJSON: #require(result.metadata?[GGUFMetadata.safetensorsKey])).map(\.key))
        for info in source.tensors {
            let before = try source.tensor(named: info.name), after = try result.tensor(named: info.name)
            #expect(after.shape == before.shape, "\(info.name)")
            switch (type, info.name) {
            case (nil, _) where before.dtype == .f16:
                // Kept F16 in the GGUF, widened (exactly) by the F32 target on the way back.
                #expect(after.dtype == .f32, "\(info.name)")
                #expect(try after.floats().map(\.bitPattern) == before.floats().map(\.bitPattern), "\(info.name)")
            case _ where type == nil || info.name == "positions" || (info.name == "blk.0.attn_norm.weight" && format == .f32):
                #expect(after.dtype == before.dtype, "\(info.name)")
                #expect(after.copyBytes() == before.copyBytes(), "\(info.name)")
            case (.q8_0, _):
                let blocks = try file.tensor(named: info.name)
                let quantized = try GGMLQuantizer.quantize(before.floats(), as: .q8_0)
                #expect(blocks.type == .q8_0, "\(info.name)")
                #expect(blocks.copyBytes() == quantized, "\(info.name)")
                #expect(try after.floats().map(\.bitPattern) == blocks.dequantized().map(\.bitPattern), "\(info.name)")
            default:
                // F16 / BF16 written and read back as such: the values the cast gives.
                #expect(after.dtype == (format == .f16 ? .f16 : .bf16), "\(info.name)")
                let cast = try TensorConverter(source: Checkpoint.open(original), target: .float(format))
                let castPath = directory + "/cast-\(info.name).safetensors"
                _ = try cast.write(to: castPath)
                #expect(try SafetensorsFile(path: castPath).tensor(named: info.name).copyBytes() == after.copyBytes(), "\(info.name)")
            }
        }
    }

    /// safetensors → GGUF with a block type: which tensors get it, the exact blocks, the metadata.
    @Test(arguments: [GGMLType.q8_0, .q4_0, .q5_1, .mxfp4, .q4_K, .q6_K])
    func safetensorsToQuantizedGGUF(type: GGMLType) throws {
        var generator = SeededGenerator(seed: 11)
        let matrix = (0..<(4 * 512)).map { _ in Float(generator.nextNormal()) }
        let odd = (0..<(3 * 96)).map { _ in Float(generator.nextNormal()) }
        let vector = (0..<512).map { _ in Float(generator.nextNormal()) }
        let halves = matrix.map { Float16($0) }
        let path = try Self.safetensorsSource([
            ("blk.0.ffn.weight", .f32, [4, 512], Self.bytes(matrix)),
            ("blk.0.odd.weight", .f32, [3, 96], Self.bytes(odd)),
            ("blk.0.attn_norm.weight", .f32, [512], Self.bytes(vector)),
            ("blk.0.half.weight", .f16, [4, 512], Self.bytes(halves)),
            ("positions", .i32, [2], Self.bytes([Int32(7), -1])),
        ], metadata: ["format": "pt"])
        let out = try temporaryDirectory() + "/out.gguf"
        let converter = try GGUFConverter(source: Checkpoint.open(path), type: type, architecture: "llama", alignment: 32)
        try converter.write(to: out)
        let file = try GGUFFile(path: out)
        #expect(file.metadata["general.architecture"] == .string("llama"))
        #expect(file.metadata["general.alignment"] == .uint32(32))
        #expect(file.metadata["general.quantization_version"] == .uint32(2))
        #expect(file.metadata.keys.prefix(2) == ["general.architecture", "general.alignment"])
        let types = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.type) })
        #expect(types["blk.0.ffn.weight"] == type)
        #expect(types["blk.0.half.weight"] == type)
        #expect(types["blk.0.attn_norm.weight"] == .f32)
        #expect(types["positions"] == .i32)
        let oddType: GGMLType = switch type {
        case .q4_K: .q5_0
        case .q6_K: .q8_0
        default: type
        }
        #expect(types["blk.0.odd.weight"] == oddType)
        #expect(file.tensorInfo(named: "blk.0.ffn.weight")?.dimensions == [512, 4])
        #expect(try file.tensor(named: "blk.0.ffn.weight").copyBytes() == GGMLQuantizer.quantize(matrix, as: type))
        #expect(try file.tensor(named: "blk.0.half.weight").copyBytes() == GGMLQuantizer.quantize(halves.map { Float($0) }, as: type))
        #expect(try file.tensor(named: "blk.0.odd.weight").copyBytes() == GGMLQuantizer.quantize(odd, as: oddType))
        #expect(try file.tensor(named: "blk.0.attn_norm.weight").dequantized() == vector)
        #expect(try file.tensor(named: "positions").copyBytes() == Self.bytes([Int32(7), -1]))
    }

    @Test func whatGGUFCannotHoldIsATypedError() throws {
        let flags = try Self.safetensorsSource([("mask", .bool, [4], [1, 0, 1, 1])])
        var e = Self.error { _ = try GGUFConverter(source: Checkpoint.open(flags), type: .q8_0) }
        #expect(e?.code == .unsupportedFormat && e?.tensor == "mask")
        let deep = try Self.safetensorsSource([("deep", .f32, [1, 1, 1, 1, 1], Self.bytes([Float(1)]))])
        e = Self.error { _ = try GGUFConverter(source: Checkpoint.open(deep), type: nil) }
        #expect(e?.code == .unsupportedFormat && e?.tensor == "deep")
        var values = [Float](repeating: 0.5, count: 64)
        values[33] = .nan
        let nan = try Self.safetensorsSource([("w", .f32, [2, 32], Self.bytes(values))])
        let out = try temporaryDirectory() + "/nan.gguf"
        e = Self.error { try GGUFConverter(source: Checkpoint.open(nan), type: .q4_0).write(to: out) }
        #expect(e?.code == .invalidData && e?.tensor == "w")
        #expect(!FileManager.default.fileExists(atPath: out))
        e = Self.error { _ = try GGUFConverter(source: Checkpoint.open(nan), type: .q2_K) }
        #expect(e?.code == .invalidArgument)
        let badJSON = try Self.safetensorsSource([("w", .f32, [1], Self.bytes([Float(1)]))],
                                                 metadata: [GGUFMetadata.safetensorsKey: #"{"k":{"type":"UINT8","value":-1}}"#])
        e = Self.error { _ = try GGUFConverter(source: Checkpoint.open(badJSON), type: nil) }
        #expect(e?.code == .invalidData && e?.reason.contains("'k'") == true)
    }
}
