import Dispatch
import Foundation
import Testing
import Weights
import WeightsPlatform
import WeightsTestSupport

/// `weights convert --dtype int4|f8_e4m3` against compressed-tensors itself
/// (Fixtures/quantized, `make_writer_fixtures.py`): the W4A16 and FP8_DYNAMIC presets applied
/// to the same checkpoint by the library give these bytes, this configuration, and these
/// dequantized values.
@Suite struct HubQuantizerTests {
    static let directory = packagePath("Fixtures/quantized")
    static let input = try! SafetensorsFile(path: directory + "/writer-input.safetensors")
    static let linear = ["model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj", "model.layers.0.mlp.up_proj"]

    static func reference(_ tag: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: directory + "/writer-\(tag).safetensors")
    }

    /// The reference's JSON (indented, keys sorted) without its layout whitespace.
    static func referenceConfig(_ tag: String) throws -> String {
        let text = try String(contentsOfFile: directory + "/writer-config-\(tag).json", encoding: .utf8)
        return String(text.filter { $0 != " " && $0 != "\n" })
    }

    @Test(arguments: [(ConversionTarget.int4(groupSize: 128), "int4"), (.fp8E4M3, "fp8")])
    func bytesAreTheLibrarys(target: ConversionTarget, tag: String) throws {
        let converter = try TensorConverter(source: Self.input, target: target)
        let reference = try Self.reference(tag)
        let referenceNames = Set(reference.tensors.map(\.name).filter { !$0.hasSuffix("_dequantized") })
        let written = Set(converter.outputs.map(\.name))
        // Every reference part is written with its dtype, shape and bytes.
        for name in referenceNames {
            let expected = try reference.tensor(named: name)
            let actual = try converter.tensor(named: name)
            #expect(actual.dtype == expected.dtype && actual.shape == expected.shape, "\(name)")
            #expect(actual.copyBytes() == expected.copyBytes(), "\(name)")
        }
        // Embeddings, norms, biases and lm_head are copied as they are; nothing else is written.
        let kept = ["model.embed_tokens.weight", "model.layers.0.mlp.up_proj.bias", "model.norm.weight", "lm_head.weight"]
        #expect(written == referenceNames.union(kept))
        for name in kept { #expect(try converter.tensor(named: name).copyBytes() == Self.input.tensor(named: name).copyBytes()) }
        #expect(converter.metadata?["quantization_config"] == (try Self.referenceConfig(tag)))
    }

    /// Written, read back through ``DequantizedSource``: compressed-tensors' `decompress` values.
    @Test(arguments: [(ConversionTarget.int4(groupSize: 128), "int4"), (.fp8E4M3, "fp8")])
    func roundTripGivesTheLibrarysValues(target: ConversionTarget, tag: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/out.safetensors"
        let report = try TensorConverter(source: Self.input, target: target).write(to: path, measuringAccuracy: true)
        #expect(report.tensors.map(\.name).sorted() == Self.linear.map { $0 + ".weight" }.sorted())
        for record in report.tensors {
            let accuracy = try #require(record.accuracy)
            #expect(accuracy.count == record.shape.reduce(1, *))
            #expect(accuracy.cosineSimilarity > (tag == "int4" ? 0.98 : 0.999), "\(record.name)")
        }
        let back = try DequantizedSource(SafetensorsFile(path: path))
        let reference = try Self.reference(tag)
        #expect(Set(back.layers.keys) == Set(Self.linear))
        for prefix in Self.linear {
            let weight = try back.tensor(named: prefix + ".weight")
            let expected = try reference.tensor(named: prefix + ".weight_dequantized")
            #expect(weight.dtype == expected.dtype && weight.shape == expected.shape, "\(prefix)")
            #expect(weight.copyBytes() == expected.copyBytes(), "\(prefix)")
        }
        // Dequantized to a plain file, the configuration goes: it names a layout no longer there.
        let plain = try TensorConverter(source: SafetensorsFile(path: path), target: .float(.f32))
        #expect(plain.metadata?["quantization_config"] == nil)
    }

    @Test func partialGroupsAreKeptAndIgnored() throws {
        // 384 columns split into groups of 128 and of 32, not of 256.
        let converter = try TensorConverter(source: Self.input, target: .int4(groupSize: 256))
        let names = Set(converter.outputs.map(\.name))
        #expect(names.contains("model.layers.0.mlp.down_proj.weight"))
        #expect(!names.contains("model.layers.0.mlp.down_proj.weight_packed"))
        #expect(names.contains("model.layers.0.self_attn.q_proj.weight_packed"))
        let config = try #require(converter.metadata?["quantization_config"])
        #expect(config.contains(#""ignore":["lm_head","model.layers.0.mlp.down_proj","model.layers.0.mlp.up_proj"]"#))
        #expect(config.contains(#""group_size":256"#))

        let small = try TensorConverter(source: Self.input, target: .int4(groupSize: 32))
        let scales = try small.tensor(named: "model.layers.0.mlp.down_proj.weight_scale")
        #expect(scales.shape == [32, 12] && scales.dtype == .f16)
    }

    @Test func nonFiniteWeightsAreRefused() throws {
        let weight = try Tensor(name: "layer.weight", shape: [1, 128], elements: [Float](repeating: 1, count: 127) + [.nan])
        #expect(throws: WeightsError.self) { try HubQuantizer.quantize(weight, scheme: .int4(groupSize: 128)) }
    }

    @Test func targetsParse() {
        #expect(ConversionTarget("int4") == .int4(groupSize: 128))
        #expect(ConversionTarget("F8_E4M3") == .fp8E4M3)
        #expect(ConversionTarget("fp8") == .fp8E4M3)
    }
}

/// F32 → F8_E4M3 and F8_E5M2 against ml_dtypes over every binary32 pattern (a strided sample
/// in a debug build): `f8-runs.bin` holds ml_dtypes' output as runs of equal bytes.
@Suite struct Float8NarrowingTests {
    struct Run { var first: UInt32; var byte: UInt8 }

    static let runs: [[Run]] = {
        let data = try! [UInt8](Data(contentsOf: URL(fileURLWithPath: packagePath("Fixtures/quantized/f8-runs.bin"))))
        func word(_ index: Int) -> UInt32 {
            (0..<4).reduce(0) { $0 | UInt32(data[index * 4 + $1]) << (8 * $1) }
        }
        var lists: [[Run]] = [], index = 0
        for _ in 0..<2 {
            let count = Int(word(index)); index += 1
            lists.append((0..<count).map { Run(first: word(index + 2 * $0), byte: UInt8(word(index + 2 * $0 + 1))) })
            index += 2 * count
        }
        return lists
    }()

    #if DEBUG
    static let stride: UInt64 = 1021
    #else
    static let stride: UInt64 = 1
    #endif

    @Test("F32→F8 rounds to nearest even as ml_dtypes does, for every pattern",
          .disabled(if: skipsSlowTests, "WEIGHTS_SKIP_EXHAUSTIVE=1"), arguments: [0, 1])
    func everyPattern(format: Int) {
        let runs = Self.runs[format]
        #expect(runs.count > 200 && runs[0].first == 0)
        let workers = max(1, ConversionTestCPUs.value)
        let result = LockedValue((checked: 0, wrong: 0, first: ""))
        let stride = Self.stride
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            // Each worker takes the runs worker, worker + workers, …, walking every
            // stride-th pattern of each.
            var checked = 0, wrong = 0, first = ""
            for index in Swift.stride(from: worker, to: runs.count, by: workers) {
                let start = UInt64(runs[index].first)
                let end = index + 1 < runs.count ? UInt64(runs[index + 1].first) : 1 << 32
                var bits = (start + stride - 1) / stride * stride
                while bits < end {
                    let value = Float(bitPattern: UInt32(bits))
                    let got = format == 0 ? Float8.e4m3(value) : Float8.e5m2(value)
                    if got != runs[index].byte {
                        wrong += 1
                        if first.isEmpty { first = "0x\(String(bits, radix: 16)) gave 0x\(String(got, radix: 16)), expected 0x\(String(runs[index].byte, radix: 16))" }
                    }
                    checked += 1
                    bits += stride
                }
            }
            result.withLock { total in
                total.checked += checked
                total.wrong += wrong
                if total.first.isEmpty { total.first = first }
            }
        }
        let total = result.withLock { $0 }
        #expect(total.checked == Int(((UInt64(1) << 32) + stride - 1) / stride))
        #expect(total.wrong == 0, "first: \(total.first)")
    }
}
