import Foundation
import Testing
import Weights
import WeightsTestSupport

/// The hub's quantized layouts against the reference libraries (Fixtures/quantized,
/// `make_fixtures.py`): compressed-tensors packs and decompresses, DeepSeek-V3's block product.
@Suite struct HubQuantizedLayoutTests {
    static let directory = packagePath("Fixtures/quantized")
    static let expected = try! SafetensorsFile(path: directory + "/expected.safetensors")

    @Test func layoutsAreFoundFromTheTensors() throws {
        let layers = try HubQuantizedLayout.layers(in: SafetensorsFile(path: Self.directory + "/compressed-tensors.safetensors"))
        #expect(layers.mapValues(\.layout) == [
            "int4_group": .packedIntegers(bits: 4, groupSize: 32, symmetric: true),
            "int4_group_asym": .packedIntegers(bits: 4, groupSize: 16, symmetric: false),
            "int4_channel": .packedIntegers(bits: 4, groupSize: 40, symmetric: true),
            "int8_channel": .packedIntegers(bits: 8, groupSize: 24, symmetric: true),
            "int8_channel_asym": .packedIntegers(bits: 8, groupSize: 24, symmetric: false),
            "fp8_tensor": .scaledFP8(.tensor),
            "fp8_channel": .scaledFP8(.row),
            "fp8_block": .scaledFP8(.block(size: 128)),
        ])
        #expect(layers["int4_group_asym"]?.weight == TensorDescriptor(name: "int4_group_asym.weight", dtype: .f16, shape: [16, 64]))
        let deepseek = try HubQuantizedLayout.layers(in: SafetensorsFile(path: Self.directory + "/deepseek-fp8.safetensors"))
        #expect(deepseek.mapValues(\.layout) == ["layer": .blockScaledFP8])
    }

    /// Every layer's weight has the reference's bytes: its dtype, its shape, its values.
    @Test(arguments: ["compressed-tensors", "deepseek-fp8"])
    func weightsAreTheReferenceValues(file name: String) throws {
        let stored = try SafetensorsFile(path: Self.directory + "/\(name).safetensors")
        let source = try DequantizedSource(stored)
        #expect(source.isQuantized)
        for layer in source.layers.values {
            let weight = try source.tensor(named: layer.weight.name)
            let reference = try Self.expected.tensor(named: layer.weight.name)
            #expect(weight.dtype == reference.dtype && weight.shape == reference.shape, "\(layer.prefix)")
            #expect(weight.copyBytes() == reference.copyBytes(), "\(layer.prefix)")
        }
        // The other tensors pass through, and nothing else is listed.
        let parts = Set(source.layers.values.flatMap(\.parts))
        let kept = stored.tensors.map(\.name).filter { !parts.contains($0) }
        #expect(Set(source.tensors.map(\.name)) == Set(kept + source.layers.values.map(\.weight.name)))
        for name in kept { #expect(try source.tensor(named: name).copyBytes() == stored.tensor(named: name).copyBytes()) }
    }

    /// `weights convert --dtype f32` of a quantized checkpoint: the reference's values, widened.
    @Test func conversionDequantizes() throws {
        let converter = try TensorConverter(source: SafetensorsFile(path: Self.directory + "/compressed-tensors.safetensors"),
                                            target: .float(.f32))
        #expect(!converter.outputs.contains { $0.name.hasSuffix("_packed") || $0.name.hasSuffix("_scale") || $0.name.hasSuffix("_shape") })
        let weight = try converter.tensor(named: "int4_group_asym.weight")
        #expect(weight.dtype == .f32 && weight.shape == [16, 64])
        #expect(try weight.floats() == Self.expected.tensor(named: "int4_group_asym.weight").floats())
    }

    @Test func unpackingStraddlesWords() {
        // Fields of 3 bits: field 10 takes bits 30–32, two from word 0 and one from word 1.
        let words: [Int32] = [Int32(bitPattern: 0b10 << 30), 0b1]
        #expect(HubDequantizer.unpack(words, start: 0, index: 10, bits: 3) == 0b110)
        #expect(HubDequantizer.unpack(words, start: 0, index: 9, bits: 3) == 0)
    }

    @Test func aScaleOfTheWrongShapeIsRefused() throws {
        // 2 rows of 64 INT4 entries: 8 words a row; 3 scales a row do not divide 64 entries.
        let packed = try Tensor(name: "x.weight_packed", shape: [2, 8], elements: [Int32](repeating: 0, count: 16))
        let shape = try Tensor(name: "x.weight_shape", shape: [2], elements: [Int64(2), 64])
        let scale = try Tensor(name: "x.weight_scale", shape: [2, 3], elements: [Float](repeating: 1, count: 6))
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bad.safetensors"
        try SafetensorsWriter.write([packed, scale, shape], metadata: nil, to: path)
        let error = #expect(throws: WeightsError.self) { try DequantizedSource(SafetensorsFile(path: path)) }
        #expect(error?.code == .invalidData && error?.tensor == "x.weight_scale" && error?.file == path, "\(String(describing: error))")
    }
}
