import Foundation
import Testing
import Weights
import WeightsTestSupport

/// The SIMD dequantizers (AVX2 + F16C, CWeightsSIMD's ggml_dequantize.c) against gguf-py's
/// values and the portable loops: single blocks, random bytes of every kind (NaN, infinite and
/// subnormal scales), and tensors whose jobs split unevenly over the threads.
@Suite struct GGMLDequantizerKernelTests {
    static let simdTypes: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K,
                                        .f16, .bf16, .iq4_NL, .tq1_0, .tq2_0, .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S]

    @Test func simdKernelsRunWhereTheCPUHasThem() {
        for type in GGMLType.allCases {
            #expect(type.dequantizesWithSIMD == (ConversionKernel.simdAvailable && Self.simdTypes.contains(type)), "\(type)")
        }
    }

    /// Each block of gguf-py's fixture decoded on its own (a tensor of one block), by both
    /// kernels, is its slice of gguf-py's values.
    @Test(arguments: [ConversionKernel.best, .portable])
    func singleBlocksAreGGUFPysValues(kernel: ConversionKernel) throws {
        let file = try GGUFFixtureTests.fixture("blocks-a32.gguf")
        let expected = try GGUFFixtureTests.fixture("blocks-expected.gguf")
        var checked: Set<GGMLType> = []
        for info in file.tensors where Self.simdTypes.contains(info.type) {
            let tensor = file.tensor(info)
            let reference = GGUFFixtureTests.bits(try expected.tensor(named: info.name))
            let size = info.type.blockSize
            for block in 0..<tensor.blockCount {
                let values = try tensor.dequantized(blocks: block..<block + 1, kernel: kernel)
                let slice = Array(reference[block * size..<(block + 1) * size])
                #expect(GGUFFixtureTests.firstDifference(values, slice) == nil, "\(info.type) block \(block)")
            }
            checked.insert(info.type)
        }
        #expect(checked == Set(Self.simdTypes))
    }

    /// A NaN scale in a grid format: where a sign is set, gguf-py multiplies by −1, which
    /// keeps the NaN's sign (and quiets it); the values are gguf-py 0.19.0's for these blocks
    /// (d = the half 0x7E00, 0xFE00 or the signaling 0x7D00, every sign of the first 8
    /// elements set).
    @Test(arguments: [ConversionKernel.best, .portable])
    func nanScalesKeepTheirSignAsGGUFPyGives(kernel: ConversionKernel) throws {
        for (half, expected) in [(UInt16(0x7E00), UInt32(0x7FC0_0000)), (0xFE00, 0xFFC0_0000), (0x7D00, 0x7FE0_0000)] {
            for (type, signByte) in [(GGMLType.iq2_XXS, 6), (.iq2_S, 34), (.iq3_S, 74)] {
                var bytes = [UInt8](repeating: 0, count: type.typeSize)
                bytes[0] = UInt8(half & 0xFF)
                bytes[1] = UInt8(half >> 8)
                bytes[signByte] = type == .iq2_XXS ? 0x7F : 0xFF   // IQ2_XXS: sign index 127, pattern 0xFF
                let file = try GGUFFile(bytes: GGUFFile.single(name: "t", type: type, count: type.blockSize, bytes: bytes))
                let values = try file.tensor(named: "t").dequantized(kernel: kernel)
                #expect(values.prefix(9).map(\.bitPattern) == [UInt32](repeating: expected, count: 9),
                        "\(type), d 0x\(String(half, radix: 16))")
            }
        }
    }

    /// The first element where two decodings differ in bits, or `nil`. Where both terms of
    /// Q4_1's and Q5_1's d × q + m are NaNs, IEEE 754 leaves open which one the sum keeps
    /// (compilers swap an add's operands, and NumPy's own loops return either), so any NaN
    /// matches any NaN there.
    static func firstDifference(_ actual: [Float], _ expected: [Float], type: GGMLType) -> String? {
        let anyNaN = type == .q4_1 || type == .q5_1
        guard let i = actual.indices.first(where: {
            actual[$0].bitPattern != expected[$0].bitPattern && !(anyNaN && actual[$0].isNaN && expected[$0].isNaN)
        }) else { return nil }
        return "element \(i): 0x\(String(actual[i].bitPattern, radix: 16)), expected 0x\(String(expected[i].bitPattern, radix: 16))"
    }

    /// `count` random bytes from `generator`.
    static func randomBytes(_ count: Int, _ generator: inout SeededGenerator) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            let word = generator.next()
            for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: word >> (8 * k))) }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }

    /// Random bytes in tensors of 1 and 7 blocks, and of one block more than 4 jobs of
    /// 64 Ki elements (so 5 jobs, the last of one block, over 1, 2 and 3 threads): the SIMD
    /// kernels give the portable loops' bits.
    @Test(arguments: simdTypes)
    func simdKernelsGiveThePortableBitsOnRandomBlocks(type: GGMLType) throws {
        var generator = SeededGenerator(seed: 0x5EED + UInt64(type.rawValue))
        for blocks in [1, 7, (1 << 18) / type.blockSize + 1] {
            let bytes = Self.randomBytes(blocks * type.typeSize, &generator)
            let count = blocks * type.blockSize
            let file = try GGUFFile(bytes: GGUFFile.single(name: "t", type: type, count: count, bytes: bytes))
            let tensor = try file.tensor(named: "t")
            let portable = try tensor.dequantized(kernel: .portable)
            #expect(portable.count == count)
            #expect(Self.firstDifference(try tensor.dequantized(), portable, type: type) == nil, "\(type), \(blocks) blocks")
            for threads in [1, 2, 3] {
                var values = [Float](repeating: 0, count: count)
                unsafe try values.withUnsafeMutableBufferPointer { buffer in
                    unsafe try tensor.dequantize(into: buffer, threads: threads)
                }
                #expect(Self.firstDifference(values, portable, type: type) == nil, "\(type), \(blocks) blocks, \(threads) threads")
            }
        }
    }

    /// A tensor of 8 Mi floats (32 MiB) and a block (its output goes around the caches, with
    /// non-temporal stores) into outputs 64-, 16- and 4-byte aligned: the portable bits.
    @Test(arguments: simdTypes)
    func streamedOutputsGiveThePortableBits(type: GGMLType) throws {
        var generator = SeededGenerator(seed: 0xCAC4E + UInt64(type.rawValue))
        let blocks = (1 << 23) / type.blockSize + 1, count = blocks * type.blockSize
        let bytes = Self.randomBytes(blocks * type.typeSize, &generator)
        let file = try GGUFFile(bytes: GGUFFile.single(name: "t", type: type, count: count, bytes: bytes))
        let tensor = try file.tensor(named: "t")
        let portable = try tensor.dequantized(kernel: .portable)
        let storage = UnsafeMutableRawPointer.allocate(byteCount: 4 * (count + 4), alignment: 64)
        defer { unsafe storage.deallocate() }
        for offset in [0, 4, 1] {   // floats past a 64-byte boundary
            // Safe: `count` floats from `offset` ≤ 4 lie inside the `count + 4` allocated.
            let output = unsafe UnsafeMutableBufferPointer(start: (storage + 4 * offset).bindMemory(to: Float.self, capacity: count),
                                                           count: count)
            unsafe try tensor.dequantize(into: output)
            let values = unsafe Array(output)
            #expect(Self.firstDifference(values, portable, type: type) == nil, "\(type), offset \(offset)")
        }
    }
}
