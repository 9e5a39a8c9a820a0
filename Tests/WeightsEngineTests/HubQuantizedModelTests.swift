import Foundation
import Testing
import Weights
import WeightsEngine

/// The encoder on checkpoints in the hub's quantized layouts (compressed-tensors INT4 and FP8,
/// DeepSeek-V3's FP8): the weights stay as stored and are widened while the product packs
/// them, to exactly the values `weights convert --dtype f32` gives.
@Suite struct HubQuantizedModelTests {
    let reference = ReferenceEmbeddings.shared
    static let fixtures = packagePath("Fixtures/quantized")

    /// A conversion of MiniLM and the accuracy it must keep against sentence-transformers' F32
    /// embeddings (the bounds: BENCHMARKS.md's measurements, less a margin).
    struct Variant: Sendable, CustomTestStringConvertible {
        let target: ConversionTarget
        let precision: WeightPrecision
        let minimum: Double
        let mean: Double
        var testDescription: String { target.description }
    }

    /// Measured (BENCHMARKS.md): INT4 group 128 min 0.9222 / mean 0.9434, group 32 0.9386 /
    /// 0.9598, FP8 0.99759 / 0.99827. Issue #15's numpy rendering of INT4 reached a minimum of
    /// 0.897 (group 128) and 0.932 (group 32): the bounds keep us at or above those.
    static let variants = [
        Variant(target: .int4(groupSize: 128), precision: .int4, minimum: 0.91, mean: 0.935),
        Variant(target: .int4(groupSize: 32), precision: .int4, minimum: 0.93, mean: 0.95),
        Variant(target: .fp8E4M3, precision: .f8E4M3, minimum: 0.997, mean: 0.998),
    ]

    /// `weights convert --dtype int4|f8_e4m3` of MiniLM runs as stored, within its bounds.
    @Test(arguments: variants)
    func convertedMiniLMKeepsItsAccuracy(_ variant: Variant) throws {
        let model = try QuantizedModel(copying: try modelDirectory(), target: variant.target)
        let embedder = try EmbeddingModel(modelDirectory: model.path)
        #expect(embedder.encoder.precision == variant.precision)
        let vectors = try embedder.embed(tokenIDs: reference.inputIDs)
        try #require(vectors.count == reference.embeddings.count)
        let similarities = zip(vectors, reference.embeddings).map { cosine($0, $1) }
        let mean = similarities.reduce(0, +) / Double(similarities.count)
        print("\(variant.target) cosine: min \(similarities.min()!), mean \(mean)")
        for (index, similarity) in similarities.enumerated() {
            #expect(similarity >= variant.minimum, "sentence \(index) '\(reference.sentences[index].prefix(40))': cosine \(similarity)")
        }
        #expect(mean >= variant.mean)
        // Quantizing at load gives the file's numbers (group 128 is the default), on any
        // number of threads.
        if variant.target != .int4(groupSize: 32) {
            let atLoad = try EmbeddingModel(modelDirectory: try modelDirectory(), precision: variant.precision, threads: 2)
            #expect(atLoad.encoder.precision == variant.precision)
            #expect(try atLoad.embed(tokenIDs: reference.inputIDs) == vectors)
        }
    }

    /// Every quantized layer of the converted file widens to what `weights convert --dtype
    /// f32` of that file writes.
    @Test(arguments: variants)
    func engineWidensAsConversionToF32(_ variant: Variant) throws {
        let model = try QuantizedModel(copying: try modelDirectory(), target: variant.target)
        let file = try SafetensorsFile(path: model.path + "/model.safetensors")
        let layers = try HubQuantizedLayout.layers(in: file)
        #expect(layers.count >= 36)  // six linear layers in each of six blocks
        let plain = try TensorConverter(source: file, target: .float(.f32))
        for layer in layers.values {
            let matrix = try WeightMatrix(layer: layer, reading: file.tensor(named:))
            #expect(matrix.precision == variant.precision)
            let expected = try plain.tensor(named: layer.weight.name).floats()
            #expect(matrix.floats(rows: 0..<matrix.rows) == expected, "\(layer.prefix)")
        }
    }

    /// The reference library's own checkpoints (Fixtures/quantized): every layout the engine
    /// runs widens to compressed-tensors' `decompress` (DeepSeek's block product in F32), bit
    /// for bit, F16 and BF16 scales included; zero points are refused by name.
    @Test(arguments: ["compressed-tensors", "deepseek-fp8", "writer-int4", "writer-fp8"])
    func fixturesWidenToTheReferenceValues(file name: String) throws {
        let file = try SafetensorsFile(path: Self.fixtures + "/\(name).safetensors")
        let expected = try SafetensorsFile(path: Self.fixtures + "/expected.safetensors")
        let layers = try HubQuantizedLayout.layers(in: file)
        try #require(!layers.isEmpty)
        for layer in layers.values {
            if case .packedIntegers(_, _, false) = layer.layout {
                #expect {
                    _ = try WeightMatrix(layer: layer, reading: file.tensor(named:))
                } throws: { ($0 as? WeightsError)?.code == .unsupportedFormat && "\($0)".contains(layer.prefix) }
                continue
            }
            let matrix = try WeightMatrix(layer: layer, reading: file.tensor(named:))
            let reference = name.hasPrefix("writer")
                ? try file.tensor(named: layer.prefix + ".weight_dequantized").floats()
                : try expected.tensor(named: layer.weight.name).floats()
            #expect(matrix.floats(rows: 0..<matrix.rows) == reference, "\(name) \(layer.prefix)")
        }
    }

    /// Pack-quantized layers with zero points, which the integer kernels do not read, run
    /// dequantized at load: a tiny BERT whose every linear layer compressed-tensors quantized to
    /// asymmetric INT4 (Fixtures/quantized/make_tiny_bert_asym.py) gives the hidden states of
    /// the same file converted as `weights convert --dtype f32` converts it, bit for bit, and
    /// stays near PyTorch's F32 states.
    @Test func asymmetricLayersRunDequantized() throws {
        let tiny = packagePath("Fixtures/tiny-bert")
        let quantized = try TemporaryDirectory(), plain = try TemporaryDirectory()
        for directory in [quantized, plain] {
            try FileManager.default.copyItem(atPath: tiny + "/config.json", toPath: directory.path + "/config.json")
        }
        try FileManager.default.copyItem(atPath: Self.fixtures + "/tiny-bert-w4-asym.safetensors",
                                         toPath: quantized.path + "/model.safetensors")
        let file = try SafetensorsFile(path: quantized.path + "/model.safetensors")
        let layers = try HubQuantizedLayout.layers(in: file)
        #expect(layers.count == 12)
        #expect(layers.values.allSatisfy { if case .packedIntegers(4, 16, false) = $0.layout { true } else { false } })
        _ = try TensorConverter(source: file, target: .float(.f32)).write(to: plain.path + "/model.safetensors")

        let ids: [[Int32]] = [[2, 17, 40, 3], [2, 5, 90, 61, 12, 3]]
        let engine = try BertEncoder(modelDirectory: quantized.path)
        let converted = try BertEncoder(modelDirectory: plain.path)
        let states = try engine.hiddenStates(ids)
        #expect(states == (try converted.hiddenStates(ids)))
        let original = try BertEncoder(modelDirectory: tiny).hiddenStates(ids)
        for (got, want) in zip(states, original) {
            let error = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            #expect(error > 0 && error < 0.5, "4-bit weights move the states a little: max |Δ| = \(error)")
        }
    }

    /// The product on a quantized operand equals the product on its widened values, on every
    /// kernel that runs here, for a slice of rows that starts inside a block of scales.
    @Test(arguments: ["fp8_block", "int4_group", "int4_channel", "int8_channel", "fp8_tensor"])
    func productReadsTheWidenedValues(layer prefix: String) throws {
        let file = try SafetensorsFile(path: Self.fixtures + "/compressed-tensors.safetensors")
        let layer = try #require(try HubQuantizedLayout.layers(in: file)[prefix])
        let matrix = try WeightMatrix(layer: layer, reading: file.tensor(named:))
        let k = matrix.columns, m = 19
        var random = SeededGenerator(seed: 5)
        let a = (0..<m * k).map { _ in Float.random(in: -1...1, using: &random) }
        for rows in [0..<matrix.rows, matrix.rows / 2 + 1..<matrix.rows] {
            let widened = matrix.floats(rows: rows)
            for kernel in [MatrixProduct.Kernel.portable, .best] {
                var got = [Float](repeating: .nan, count: m * rows.count)
                var want = got
                unsafe a.withUnsafeBufferPointer { a in
                    unsafe got.withUnsafeMutableBufferPointer { c in
                        unsafe matrix.withOperand(rows: rows) { operand in
                            unsafe MatrixProduct.multiplyTransposed(a.baseAddress!, lda: k, operand, ldb: k, into: c.baseAddress!,
                                                                    ldc: rows.count, m: m, n: rows.count, k: k, kernel: kernel)
                        }
                    }
                    unsafe widened.withUnsafeBufferPointer { b in
                        unsafe want.withUnsafeMutableBufferPointer { c in
                            unsafe MatrixProduct.multiplyTransposed(a.baseAddress!, lda: k, .f32(b.baseAddress!), ldb: k,
                                                                    into: c.baseAddress!, ldc: rows.count, m: m, n: rows.count,
                                                                    k: k, kernel: kernel)
                        }
                    }
                }
                #expect(got == want, "\(prefix) rows \(rows) \(kernel)")
            }
        }
    }

    /// Every F8_E4M3 byte widens to its value (NaN for 0x7F and 0xFF) times its row's scale.
    @Test func everyFP8ByteWidensExactly() throws {
        let directory = try TemporaryDirectory()
        let bytes = (0..<512).map { UInt8($0 % 256) }
        let weight = try Tensor(name: "layer.weight", dtype: .f8E4M3, shape: [2, 256], bytes: bytes)
        let scales = try Tensor(name: "layer.weight_scale", shape: [2, 1], elements: [Float(1), 3])
        try SafetensorsWriter.write([weight, scales], metadata: nil, to: directory.path + "/fp8.safetensors")
        let file = try SafetensorsFile(path: directory.path + "/fp8.safetensors")
        let layer = try #require(try HubQuantizedLayout.layers(in: file)["layer"])
        let matrix = try WeightMatrix(layer: layer, reading: file.tensor(named:))
        let values = try weight.floats()
        let widened = matrix.floats(rows: 0..<2)
        for index in 0..<512 {
            let want = values[index] * (index < 256 ? 1 : 3)
            #expect(widened[index].bitPattern == want.bitPattern || (widened[index].isNaN && want.isNaN),
                    "byte \(index % 256): \(widened[index]), expected \(want)")
        }
        #expect(widened.filter(\.isNaN).count == 4)
    }
}

/// A copy of a model directory with its weights converted by ``TensorConverter`` to `target`,
/// as `weights convert --dtype` writes them; removed when the value goes away.
struct QuantizedModel {
    let directory: TemporaryDirectory
    var path: String { directory.path }

    init(copying source: String, target: ConversionTarget) throws {
        directory = try TemporaryDirectory()
        for name in ["config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json", "vocab.txt"] {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: path + "/" + name)
        }
        try FileManager.default.copyItem(atPath: source + "/1_Pooling", toPath: path + "/1_Pooling")
        let converter = try TensorConverter(source: SafetensorsFile(path: source + "/model.safetensors"), target: target)
        _ = try converter.write(to: path + "/model.safetensors")
    }
}
