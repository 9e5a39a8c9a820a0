import Testing
import Weights

/// The fixtures made by Fixtures/conversion/make_fixtures.py (numpy 2.4.6, ml_dtypes 0.6.0,
/// safetensors 0.8.0).
enum ConversionFixtures {
    static let directory: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/WeightsTests/<this file>
        return parts.joined(separator: "/") + "/Fixtures/conversion/"
    }()

    static func path(_ name: String) -> String { directory + name }

    static func bytes(_ name: String) throws -> [UInt8] { try contents(of: path(name)) }

    /// The bytes of the file at `path`.
    static func contents(of path: String) throws -> [UInt8] {
        unsafe try ByteStorage.map(path: path).withUnsafeBytes { unsafe Array($0) }
    }

    static func values<T: BitwiseCopyable>(_ name: String, as type: T.Type) throws -> [T] {
        let raw = try bytes(name)
        return unsafe raw.withUnsafeBytes { bytes in
            (0..<raw.count / MemoryLayout<T>.size).map { unsafe bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
        }
    }

    /// A fresh path in the temporary directory.
    static func temporaryPath(_ name: String) -> String {
        "/tmp/weights-conversion-tests-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-\(name)"
    }
}

@Suite("Conversion, golden files")
struct ConversionGoldenTests {
    @Test("--dtype f16 equals numpy astype(float16) + safetensors save_file, byte for byte")
    func float16File() throws {
        let output = ConversionFixtures.temporaryPath("f16.safetensors")
        defer { unsafe unlink(output) }
        let report = try TensorConverter(source: SafetensorsFile(path: ConversionFixtures.path("source.safetensors")),
                                         target: .float(.f16)).write(to: output)
        #expect(try ConversionFixtures.bytes("expected_f16.safetensors") == ConversionFixtures.contents(of: output))
        // 65520, 65520 + ulp, FLT_MAX, the BF16 overflow edges and -8.5e37: six finite overflows.
        #expect(report.tensors.first { $0.name == "edges" }?.overflowCount == 6)
        #expect(report.overflowCount == 6)
    }

    @Test("--dtype bf16 equals ml_dtypes bfloat16 + save_file, apart from the two NaN payloads ml_dtypes drops")
    func bfloat16File() throws {
        let output = ConversionFixtures.temporaryPath("bf16.safetensors")
        defer { unsafe unlink(output) }
        let report = try TensorConverter(source: SafetensorsFile(path: ConversionFixtures.path("source.safetensors")),
                                         target: .float(.bf16)).write(to: output)
        let expected = try ConversionFixtures.bytes("expected_bf16.safetensors")
        let actual = try ConversionFixtures.contents(of: output)
        try #require(expected.count == actual.count)
        let file = try SafetensorsFile(path: output)
        #expect(expected[0..<file.dataOffset] == actual[0..<file.dataOffset], "headers differ")
        var payloadDifferences: [UInt16] = []
        for tensor in file.tensors {
            let range = file.dataOffset + tensor.dataOffsets.lowerBound..<file.dataOffset + tensor.dataOffsets.upperBound
            if tensor.dtype != .bf16 { #expect(actual[range] == expected[range], "\(tensor.name)") }
        }
        for index in stride(from: file.dataOffset, to: actual.count - 1, by: 2) where actual[index..<index + 2] != expected[index..<index + 2] {
            let ours = UInt16(actual[index]) | UInt16(actual[index + 1]) << 8
            let theirs = UInt16(expected[index]) | UInt16(expected[index + 1]) << 8
            #expect(BFloat16(bitPattern: ours).isNaN && BFloat16(bitPattern: theirs).isNaN && ours >> 15 == theirs >> 15)
            payloadDifferences.append(ours)
        }
        // 0x7FC12345 and 0xFFE00001 keep their top payload bits; ml_dtypes writes 0x7FC0 / 0xFFC0.
        #expect(payloadDifferences == [0x7FC1, 0xFFE0])
        #expect(report.tensors.first { $0.name == "edges" }?.overflowCount == 3)
    }

    @Test("Integer, bool, scalar and empty tensors are copied untouched", arguments: ["f16", "bf16", "int8", "f64"])
    func untouched(target: String) throws {
        let source = try SafetensorsFile(path: ConversionFixtures.path("source.safetensors"))
        let converter = try TensorConverter(source: source, target: #require(ConversionTarget(target)))
        for name in ["token_ids", "counts", "bytes", "mask"] {
            let original = try source.tensor(named: name)
            let converted = try converter.tensor(named: name)
            #expect(converted.dtype == original.dtype)
            #expect(converted.copyBytes() == original.copyBytes())
        }
        let scalar = try converter.tensor(named: "scalar")
        #expect(scalar.shape == [])
        #expect(try scalar.floats() == [2.5])
    }

    @Test("--dtype int8 equals the numpy rendering of the scheme, byte for byte")
    func int8File() throws {
        let output = ConversionFixtures.temporaryPath("int8.safetensors")
        defer { unsafe unlink(output) }
        let report = try TensorConverter(source: SafetensorsFile(path: ConversionFixtures.path("source.safetensors")),
                                         target: .int8).write(to: output, measuringAccuracy: true)
        #expect(try ConversionFixtures.bytes("expected_int8.safetensors") == ConversionFixtures.contents(of: output))
        // In the source's data order: F64 first, then F32, BF16, F16 (the canonical layout).
        #expect(report.tensors.map(\.name) == ["double.weight", "conv.weight", "empty", "encoder.weight", "brain.weight", "half.weight"])
        #expect(report.tensors.allSatisfy { $0.dtype == .i8 && $0.scaleTensor == $0.name + "_scale" })
        let file = try SafetensorsFile(path: output)
        #expect(file.metadata == ["format": "pt", "weights.quantization": "int8-symmetric-per-row"])
    }

    @Test("Dequantizing the INT8 golden file equals numpy's q * scale, cast", arguments: ["f32", "f16"])
    func dequantizedFile(target: String) throws {
        let output = ConversionFixtures.temporaryPath("dequantized.safetensors")
        defer { unsafe unlink(output) }
        let source = try SafetensorsFile(path: ConversionFixtures.path("expected_int8.safetensors"))
        let report = try TensorConverter(source: source, target: #require(ConversionTarget(target))).write(to: output)
        #expect(try ConversionFixtures.bytes("expected_int8_to_\(target).safetensors") == ConversionFixtures.contents(of: output))
        #expect(report.tensors.filter { $0.scaleTensor != nil }.count == 6)
        #expect(try SafetensorsFile(path: output).metadata == ["format": "pt"])
    }

    @Test("F32→F16 and F32→BF16 on 16,384 patterns match numpy and ml_dtypes, up to NaN quieting and payloads")
    func samplePatterns() throws {
        let sample = try ConversionFixtures.values("f32_sample.bin", as: UInt32.self)
        let numpy = try ConversionFixtures.values("f32_sample_to_f16.bin", as: UInt16.self)
        let mlDtypes = try ConversionFixtures.values("f32_sample_to_bf16.bin", as: UInt16.self)
        try #require(sample.count == 16_384 && numpy.count == sample.count && mlDtypes.count == sample.count)
        var half = [UInt16](repeating: 0, count: sample.count), brain = half
        unsafe sample.withUnsafeBytes { input in
            unsafe half.withUnsafeMutableBytes { _ = unsafe FloatFormat.convert(input, from: .f32, to: .f16, into: $0) }
            unsafe brain.withUnsafeMutableBytes { _ = unsafe FloatFormat.convert(input, from: .f32, to: .bf16, into: $0) }
        }
        var signallingNaNs = 0
        for index in sample.indices {
            if half[index] != numpy[index] {
                // numpy keeps a signalling NaN signalling; we set the quiet bit, nothing else.
                #expect(numpy[index] & 0x7C00 == 0x7C00 && numpy[index] & 0x3FF != 0 && half[index] == numpy[index] | 0x0200,
                        "pattern 0x\(String(sample[index], radix: 16))")
                signallingNaNs += 1
            }
            if brain[index] != mlDtypes[index] {
                #expect(BFloat16(bitPattern: brain[index]).isNaN && mlDtypes[index] & 0x7FFF == 0x7FC0
                            && brain[index] >> 15 == mlDtypes[index] >> 15,
                        "pattern 0x\(String(sample[index], radix: 16))")
            }
        }
        #expect(signallingNaNs > 0)
    }

    @Test("F16→F32 for all 65,536 patterns matches numpy, up to NaN quieting")
    func widenAllHalves() throws {
        let numpy = try ConversionFixtures.values("f16_all_to_f32.bin", as: UInt32.self)
        try #require(numpy.count == 65_536)
        let halves = (0...UInt16.max).map { $0 }
        var floats = [UInt32](repeating: 0, count: halves.count)
        unsafe halves.withUnsafeBytes { input in
            unsafe floats.withUnsafeMutableBytes { _ = unsafe FloatFormat.convert(input, from: .f16, to: .f32, into: $0) }
        }
        let differing = halves.indices.filter { floats[$0] != numpy[$0] }
        #expect(differing.allSatisfy { floats[$0] == numpy[$0] | 0x40_0000 && Float(bitPattern: numpy[$0]).isNaN })
        #expect(differing.count == 2 * 511)  // the signalling NaNs of both signs
    }

    @Test("F8_E4M3 and F8_E5M2 read to float exactly as ml_dtypes does", arguments: [
        (DType.f8E4M3, "f8e4m3_all_to_f32.bin"), (.f8E5M2, "f8e5m2_all_to_f32.bin"),
    ])
    func float8(dtype: DType, golden: String) throws {
        let expected = try ConversionFixtures.values(golden, as: Float.self)
        let tensor = try Tensor(name: "f8", dtype: dtype, shape: [256], bytes: (0...255).map { UInt8($0) })
        let actual = try tensor.floats()
        for index in 0..<256 {
            let same = actual[index].bitPattern == expected[index].bitPattern
                || (actual[index].isNaN && expected[index].isNaN && actual[index].sign == expected[index].sign)
            #expect(same, "byte 0x\(String(index, radix: 16)): \(actual[index]) vs \(expected[index])")
        }
    }
}

import WeightsPlatform
