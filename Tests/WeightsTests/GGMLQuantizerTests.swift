import Foundation
import Testing
import Weights

/// GGMLQuantizer against gguf-py 0.19's `gguf.quants.quantize` (Fixtures/gguf/quants.gguf,
/// written by make_writer_fixtures.py): the same bytes, block for block.
@Suite struct GGMLQuantizerTests {
    static let quants: GGUFFile? = try? GGUFFile(path: packagePath("Fixtures/gguf/quants.gguf"))
    static let sets = ["normal", "uniform", "positive", "scaled", "zeros", "constant", "ties", "sparse", "pow2", "extreme", "from_f16"]

    @Test(arguments: [GGMLType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .mxfp4, .tq1_0, .tq2_0])
    func sameBytesAsGGUFPy(type: GGMLType) throws {
        let file = try #require(Self.quants)
        for set in Self.sets {
            let input = try file.tensor(named: "input.\(set)").dequantized()
            let expected = try file.tensor(named: "\(type.name.lowercased()).\(set)")
            #expect(expected.type == type)
            let actual = try GGMLQuantizer.quantize(input, as: type)
            let reference = expected.copyBytes()
            #expect(actual.count == reference.count)
            let blocks = actual.count / type.typeSize
            let differing = (0..<blocks).filter { b in
                actual[b * type.typeSize..<(b + 1) * type.typeSize] != reference[b * type.typeSize..<(b + 1) * type.typeSize]
            }
            #expect(differing.isEmpty, "\(type) '\(set)': \(differing.count) of \(blocks) blocks differ, first \(differing.first ?? -1)")
        }
    }

    @Test func floatTargetsRoundOnceToNearest() throws {
        let values: [Float] = [1, -2.5, 65504, 65520, 1e-8, .infinity, -0.0, 3.14159265, Float(bitPattern: 0x7F80_0001)]
        let f32 = try GGMLQuantizer.quantize(values, as: .f32)
        let f32Bytes = unsafe values.withUnsafeBytes { unsafe Array($0) }
        #expect(f32 == f32Bytes)
        let f16 = try GGMLQuantizer.quantize(values, as: .f16)
        let halves = values[0..<8].map { Float16($0) }
        let f16Bytes = unsafe halves.withUnsafeBytes { unsafe Array($0) }
        #expect(Array(f16[0..<16]) == f16Bytes)
        let bf16 = try GGMLQuantizer.quantize(values, as: .bf16)
        // 3.14159265 is 0x40490FDB: rounds up to 0x4049; a signaling NaN becomes quiet 0x7FC0.
        #expect(bf16[14] == 0x49 && bf16[15] == 0x40)
        #expect(bf16[16] == 0xC0 && bf16[17] == 0x7F)
        #expect(bf16[10] == 0x80 && bf16[11] == 0x7F)   // infinity stays
    }

    @Test func badInputIsATypedError() throws {
        var values = [Float](repeating: 1, count: 64)
        values[40] = .nan
        let nan = errorCode { _ = try GGMLQuantizer.quantize(values, as: .q8_0) }
        #expect(nan == .invalidData)
        values[40] = -.infinity
        do {
            _ = try GGMLQuantizer.quantize(values, as: .q4_K)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidArgument)   // 64 values are not a Q4_K block of 256
        }
        do {
            unsafe try values.withUnsafeBufferPointer { input in
                var out = [UInt8](repeating: 0, count: 68)
                unsafe try out.withUnsafeMutableBytes { output in
                    unsafe try GGMLQuantizer.quantize(input, as: .q8_0, into: output, file: "m.safetensors", tensor: "w")
                }
            }
            Issue.record("expected an error")
        } catch let error as WeightsError {
            #expect(error.code == .invalidData && error.tensor == "w" && error.file == "m.safetensors")
            #expect(error.reason.contains("element 40"))
        }
        #expect(errorCode { _ = try GGMLQuantizer.quantize([Float](repeating: 0, count: 33), as: .q4_0) } == .invalidArgument)
        #expect(errorCode { _ = try GGMLQuantizer.quantize([Float](repeating: 0, count: 256), as: .q2_K) } == .unsupportedFormat)
    }

    /// A large input is split over the cores; the bytes are those of quantizing it in small
    /// pieces, one thread each.
    @Test(arguments: [GGMLType.q8_0, .q4_1, .mxfp4, .tq1_0, .q4_K, .q6_K, .bf16])
    func parallelQuantizingGivesTheSameBytes(type: GGMLType) throws {
        var generator = SeededGenerator(seed: 3)
        let values = (0..<(1 << 18)).map { _ in Float(generator.nextNormal()) }
        let whole = try GGMLQuantizer.quantize(values, as: type)
        var pieces: [UInt8] = []
        for start in stride(from: 0, to: values.count, by: 1 << 16) {
            pieces += try GGMLQuantizer.quantize(Array(values[start..<start + (1 << 16)]), as: type)
        }
        #expect(whole == pieces)
    }

    /// Decoding a large tensor is split over the cores too; the values are those of decoding
    /// it a block range at a time.
    @Test(arguments: [GGMLType.q8_0, .q4_K, .f32])
    func parallelDequantizingGivesTheSameValues(type: GGMLType) throws {
        var generator = SeededGenerator(seed: 5)
        let values = (0..<(1 << 18)).map { _ in Float(generator.nextNormal()) }
        let bytes = try GGMLQuantizer.quantize(values, as: type)
        let tensor = try GGUFFile(bytes: GGUFFile.single(name: "t", type: type, count: values.count, bytes: bytes)).tensor(named: "t")
        let whole = try tensor.dequantized()
        let step = (1 << 15) / type.blockSize
        var pieces: [Float] = []
        for first in stride(from: 0, to: tensor.blockCount, by: step) {
            pieces += try tensor.dequantized(blocks: first..<min(tensor.blockCount, first + step))
        }
        #expect(whole.map(\.bitPattern) == pieces.map(\.bitPattern))
        if type == .f32 { #expect(whole == values) }
    }

    /// Quantizing, then decoding, stays within each format's step of the input.
    @Test(arguments: [GGMLType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .mxfp4, .q4_K, .q6_K])
    func roundTripErrorIsWithinTheFormatsStep(type: GGMLType) throws {
        var generator = SeededGenerator(seed: 7)
        let values = (0..<4096).map { _ in Float(generator.nextNormal()) }
        let bytes = try GGMLQuantizer.quantize(values, as: type)
        let file = try GGUFFile(bytes: GGUFFile.single(name: "t", type: type, count: values.count, bytes: bytes))
        let back = try file.tensor(named: "t").dequantized()
        let rms = (zip(values, back).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(values.count)).squareRoot()
        let bound: Float = switch type {
        case .q8_0: 0.01
        case .q6_K: 0.02
        case .q5_0, .q5_1: 0.05
        case .q4_K: 0.08
        default: 0.12
        }
        #expect(rms < bound, "\(type): RMS error \(rms)")
        #expect(rms > 0)
    }
}

extension GGUFFile {
    /// The bytes of a GGUF file holding one tensor of `count` elements in one row.
    static func single(name: String, type: GGMLType, count: Int, bytes: [UInt8]) throws -> [UInt8] {
        let path = try temporaryDirectory() + "/single.gguf"
        let writer = try GGUFWriter(path: path, metadata: [], tensors: [.init(name: name, type: type, dimensions: [count])], syncToDisk: false)
        try writer.write(bytes)
        try writer.finish()
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
