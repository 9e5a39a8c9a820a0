import Foundation
import Testing
import Weights

/// The fixtures gguf-py wrote (Fixtures/gguf/make_fixtures.py): every metadata value type,
/// and every block format decoded to the same float32 bits as `gguf.quants.dequantize`.
@Suite struct GGUFFixtureTests {
    static func fixture(_ name: String) throws -> GGUFFile {
        try GGUFFile(path: packagePath("Fixtures/gguf/" + name))
    }

    /// The float32 bit patterns of an F32 tensor.
    static func bits(_ tensor: GGUFTensor) -> [UInt32] {
        unsafe tensor.withUnsafeBytes { bytes in
            (0..<bytes.count / 4).map { unsafe UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
    }

    /// The first index where `actual` and `expected` differ in bits, described, or `nil`.
    static func firstDifference(_ actual: [Float], _ expected: [UInt32]) -> String? {
        guard actual.count == expected.count else { return "\(actual.count) values, expected \(expected.count)" }
        guard let i = actual.indices.first(where: { actual[$0].bitPattern != expected[$0] }) else { return nil }
        return "element \(i): \(actual[i]) (0x\(String(actual[i].bitPattern, radix: 16))), expected \(Float(bitPattern: expected[i])) (0x\(String(expected[i], radix: 16)))"
    }

    @Test func everyMetadataValueTypeReadsTyped() throws {
        let file = try Self.fixture("metadata.gguf")
        let m = file.metadata
        #expect(m["general.architecture"] == .string("fixture"))
        #expect(m["test.uint8"] == .uint8(200))
        #expect(m["test.int8"] == .int8(-100))
        #expect(m["test.uint16"] == .uint16(60000))
        #expect(m["test.int16"] == .int16(-30000))
        #expect(m["test.uint32"] == .uint32(4_000_000_000))
        #expect(m["test.int32"] == .int32(-2_000_000_000))
        #expect(m["test.float32"] == .float32(0.1))
        #expect(m["test.bool_true"] == .bool(true))
        #expect(m["test.bool_false"]?.bool == false)
        #expect(m["test.string"]?.string == "héllo, wörld ✓")
        #expect(m["test.uint64"] == .uint64(18_000_000_000_000_000_000))
        #expect(m["test.uint64"]?.int == nil)
        #expect(m["test.int64"]?.int == -9_000_000_000_000_000_000)
        #expect(m["test.float64"]?.double == 2.718281828459045)
        #expect(try m["test.array_uint8"]?.array?.integers() == [1, 2, 255])
        #expect(try m["test.array_int16"]?.array?.values() == [.int16(-1), .int16(0), .int16(32767)])
        #expect(try m["test.array_float32"]?.array?.floats() == [0.5, -1.25, 3.0])
        #expect(try m["test.array_float64"]?.array?.values() == [.float64(1e-300), .float64(2.5)])
        #expect(try m["test.array_bool"]?.array?.values() == [.bool(true), .bool(false), .bool(true)])
        #expect(try m["test.array_uint64"]?.array?.values() == [.uint64(0), .uint64(.max)])
        #expect(try m["test.array_string"]?.array?.strings() == ["a", "", "ünï", "<bos>"])
        let nested = try #require(m["test.array_nested"]?.array)
        #expect(nested.elementType == .array)
        #expect(try nested.values().map { try $0.array?.integers() } == [[1, 2], [3], [4, 5, 6]])
        #expect(try nested.element(at: 2).array?.integers() == [4, 5, 6])
        let nestedStrings = try #require(m["test.array_nested_strings"]?.array)
        #expect(try nestedStrings.values().map { try $0.array?.strings() } == [["x", "y"], ["z"]])
        let long = try #require(m["test.array_long"]?.array)
        #expect(long.elementType == .int32 && long.count == 100)
        #expect(try long.element(at: 99) == .int32(99))
        // File order, as the writer wrote them (general.architecture first).
        #expect(m.keys.first == "general.architecture")
        #expect(m.keys.last == "test.array_long")
        let tiny = try file.tensor(named: "tiny")
        #expect(tiny.dimensions == [3, 2])
        #expect(tiny.shape == [2, 3])
        #expect(try tiny.dequantized() == [1, 2, 3, 4, 5, 6])
    }

    /// Both kernels: the SIMD one (where the CPU and the type have it) and the portable loops.
    @Test(arguments: ["blocks-a32.gguf", "blocks-a64.gguf"], [ConversionKernel.best, .portable])
    func everyBlockFormatDequantizesBitForBit(_ name: String, kernel: ConversionKernel) throws {
        let file = try Self.fixture(name)
        let expected = try Self.fixture("blocks-expected.gguf")
        #expect(file.alignment == (name == "blocks-a64.gguf" ? 64 : 32))
        var checked: Set<GGMLType> = []
        for info in file.tensors where info.type.canDequantize {
            let values = try file.tensor(info).dequantized(kernel: kernel)
            let reference = Self.bits(try expected.tensor(named: info.name))
            #expect(Self.firstDifference(values, reference) == nil, "\(info.type): \(Self.firstDifference(values, reference) ?? "")")
            #expect(info.offset % file.alignment == 0)
            checked.insert(info.type)
        }
        if name == "blocks-a32.gguf" {
            let plain: [GGMLType] = [.f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64]
            let blocks: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K]
            let others: [GGMLType] = [.iq4_NL, .iq4_XS, .tq1_0, .tq2_0, .mxfp4, .nvfp4]
            let grids: [GGMLType] = [.iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq1_S, .iq1_M]
            #expect(checked == Set(plain + blocks + others + grids))
            #expect(checked == Set(GGMLType.allCases.filter(\.canDequantize)))
        } else {
            #expect(checked.count == 7)
        }
    }

    @Test func partialDequantizationMatchesTheWhole() throws {
        let file = try Self.fixture("blocks-a32.gguf")
        for info in file.tensors where info.type.canDequantize {
            let tensor = file.tensor(info)
            let whole = try tensor.dequantized()
            let blocks = tensor.blockCount
            let tail = try tensor.dequantized(blocks: blocks / 2..<blocks)
            let first: Int = (blocks / 2) * info.type.blockSize
            let tailBits: [UInt32] = tail.map(\.bitPattern)
            let wholeBits: [UInt32] = whole[first...].map(\.bitPattern)
            #expect(tailBits == wholeBits, "\(info.type)")
        }
        let q4 = try file.tensor(named: "q4_k")
        #expect(throws: WeightsError.self) { try q4.dequantized(blocks: 0..<3) }
    }

    @Test func typesNotDecodedKeepTheirRawBlocks() throws {
        let file = try Self.fixture("blocks-a32.gguf")
        let tensor = try file.tensor(named: "q8_1")
        #expect(tensor.type == .q8_1)
        #expect(tensor.byteCount == 2 * 8 * 40)
        #expect(tensor.copyBytes().count == 640)
        #expect { try tensor.dequantized() } throws: {
            let error = $0 as? WeightsError
            return error?.code == .unsupportedFormat && error?.tensor == "q8_1" && error?.file?.hasSuffix("blocks-a32.gguf") == true
        }
    }

    @Test func checkpointOpensGGUFAsATensorSource() throws {
        let source = try Checkpoint.open(packagePath("Fixtures/gguf/blocks-a32.gguf"))
        let gguf = try #require(source as? GGUFTensorSource)
        let expected = try Self.fixture("blocks-expected.gguf")
        #expect(source.metadata?["general.architecture"] == "fixture")
        let q6 = try source.tensor(named: "q6_k")
        #expect(q6.dtype == .f32)
        #expect(q6.shape == [2, 256])
        #expect(try q6.elements(of: Float.self).map(\.bitPattern) == Self.bits(try expected.tensor(named: "q6_k")))
        let f16 = try source.tensor(named: "f16")
        #expect(f16.dtype == .f16)
        #expect(try f16.floats().map(\.bitPattern) == Self.bits(try expected.tensor(named: "f16")))
        #expect(gguf.tensors.count == gguf.file.tensors.count)
        var offset = 0
        for info in gguf.tensors {
            #expect(info.dataOffsets.lowerBound == offset)
            offset = info.dataOffsets.upperBound
        }
    }

    /// A GGUF file converts to safetensors through the TensorSource view: decoded tensors as
    /// F32, plain ones as they are.
    @Test func ggufWritesAsSafetensors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try Checkpoint.open(packagePath("Fixtures/gguf/blocks-a64.gguf"))
        try source.write(to: directory + "/out.safetensors", syncToDisk: false)
        let written = try SafetensorsFile(path: directory + "/out.safetensors")
        let expected = try Self.fixture("blocks-expected.gguf")
        #expect(Set(written.tensors.map(\.name)) == Set(source.tensors.map(\.name)))
        for name in ["q4_k", "q6_k", "mxfp4"] {
            let tensor = try written.tensor(named: name)
            #expect(tensor.dtype == .f32 && tensor.shape == [2, 256])
            #expect(try tensor.elements(of: Float.self).map(\.bitPattern) == Self.bits(try expected.tensor(named: name)))
        }
        #expect(try written.tensor(named: "f16").dtype == .f16)
    }
}
