import Foundation
import Testing
import Weights

/// GGUFWriter against gguf-py's GGUFWriter: the files gguf-py wrote (Fixtures/gguf/), written
/// again from the same metadata and tensors, must be the same bytes.
@Suite struct GGUFWriterTests {
    static func fixtureBytes(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: packagePath("Fixtures/gguf/" + name))))
    }

    static func readBytes(_ path: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Writes `file`'s metadata and tensors to `path`, each tensor in chunks of `chunk` bytes.
    static func rewrite(_ file: GGUFFile, to path: String, chunk: Int = .max) throws {
        let writer = try GGUFWriter(path: path, metadata: file.metadata,
                                    tensors: file.tensors.map { .init(name: $0.name, type: $0.type, dimensions: $0.dimensions) },
                                    syncToDisk: false)
        while let next = writer.nextTensor {
            let bytes = try file.tensor(named: next.name).copyBytes()
            var start = 0
            repeat {
                let end = min(bytes.count, start + max(chunk, 1))
                try writer.write(Array(bytes[start..<end]))
                start = end
            } while start < bytes.count
        }
        try writer.finish()
    }

    @Test(arguments: ["metadata.gguf", "blocks-a32.gguf", "blocks-a64.gguf", "blocks-expected.gguf",
                      "writer-a32.gguf", "writer-a64.gguf", "quants.gguf"])
    func rewritesGGUFPyFilesByteForByte(name: String) throws {
        let directory = try temporaryDirectory()
        let file = try GGUFFile(path: packagePath("Fixtures/gguf/" + name))
        let out = directory + "/" + name
        try Self.rewrite(file, to: out)
        let expected = try Self.fixtureBytes(name)
        let actual = try Self.readBytes(out)
        #expect(actual.count == expected.count)
        let first = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(first == nil, "first difference at byte \(first ?? -1)")
        // In chunks of 7 bytes: the same file.
        try Self.rewrite(file, to: out + ".chunked", chunk: 7)
        #expect(try Self.readBytes(out + ".chunked") == expected)
    }

    /// The metadata and tensors make_writer_fixtures.py gives gguf-py, built from Swift values.
    static func writerFixture(alignment: UInt32?) throws -> (metadata: [GGUFMetadata.Element], tensors: [(GGUFWriter.Tensor, [UInt8])]) {
        var metadata: [GGUFMetadata.Element] = [("general.architecture", .string("writer-test"))]
        if let alignment { metadata.append(("general.alignment", .uint32(alignment))) }
        let nested = try GGUFArray(elementType: .array, values: [
            .array(try GGUFArray(elementType: .int32, values: [.int32(1), .int32(2), .int32(3)])),
            .array(try GGUFArray(elementType: .int32, values: [.int32(4)])),
        ])
        let nestedStrings = try GGUFArray(elementType: .array, values: [
            .array(GGUFArray(strings: ["a"])), .array(GGUFArray(strings: ["b", "c"])),
        ])
        metadata += [
            ("t.u8", .uint8(255)), ("t.i8", .int8(-128)), ("t.u16", .uint16(65535)), ("t.i16", .int16(-32768)),
            ("t.u32", .uint32(.max)), ("t.i32", .int32(.min)), ("t.f32", .float32(-1.5e-7)),
            ("t.true", .bool(true)), ("t.false", .bool(false)), ("t.string", .string("Grüße, 世界 ✓")),
            ("t.empty_string", .string("")), ("t.u64", .uint64(.max)), ("t.i64", .int64(.min)), ("t.f64", .float64(1e300)),
            ("t.array_i8", .array(try GGUFArray(elementType: .int8, values: [.int8(-1), .int8(0), .int8(1)]))),
            ("t.array_u16", .array(try GGUFArray(elementType: .uint16, values: [.uint16(1), .uint16(65535)]))),
            ("t.array_u32", .array(try GGUFArray(elementType: .uint32, values: [.uint32(7)]))),
            ("t.array_i32", .array(try GGUFArray(elementType: .int32, values: [.int32(-5), .int32(5), .int32(.max)]))),
            ("t.array_i64", .array(try GGUFArray(elementType: .int64, values: [.int64(.min), .int64(.max)]))),
            ("t.array_f32", .array(GGUFArray(floats: [0.25, -2.0]))),
            ("t.array_f64", .array(try GGUFArray(elementType: .float64, values: [.float64(3.5), .float64(-0.0)]))),
            ("t.array_bool", .array(try GGUFArray(elementType: .bool, values: [.bool(false), .bool(true)]))),
            ("t.array_string", .array(GGUFArray(strings: ["<s>", "", "ëx"]))),
            ("t.array_nested", .array(nested)),
            ("t.array_nested_strings", .array(nestedStrings)),
        ]
        func bytes<T>(_ values: [T]) -> [UInt8] { unsafe values.withUnsafeBytes { unsafe Array($0) } }
        let tensors: [(GGUFWriter.Tensor, [UInt8])] = [
            (.init(name: "weight.f32", type: .f32, shape: [4, 5]), bytes((0..<20).map { Float($0) * 0.5 - 3 })),
            (.init(name: "vector.f16", type: .f16, shape: [7]), bytes((0..<7).map { Float16(Float($0) * 0.25 - 1) })),
            (.init(name: "cube.i8", type: .i8, shape: [2, 3, 4]), bytes((0..<24).map { Int8($0 - 12) })),
            (.init(name: "ids.i32", type: .i32, shape: [3]), bytes((0..<3).map { Int32($0 * 100_000 - 7) })),
            (.init(name: "blocks.q8_0", type: .q8_0, shape: [2, 32]), (0..<68).map { UInt8($0 % 256) }),
        ]
        return (metadata, tensors)
    }

    @Test(arguments: [("writer-a32.gguf", nil), ("writer-a64.gguf", 64)] as [(String, UInt32?)])
    func valuesBuiltInSwiftGiveGGUFPysBytes(name: String, alignment: UInt32?) throws {
        let (metadata, tensors) = try Self.writerFixture(alignment: alignment)
        let out = try temporaryDirectory() + "/" + name
        let writer = try GGUFWriter(path: out, metadata: metadata, tensors: tensors.map(\.0))
        #expect(writer.alignment == Int(alignment ?? 32))
        #expect(writer.dataOffset % writer.alignment == 0)
        for (tensor, bytes) in tensors {
            #expect(writer.nextTensor?.name == tensor.name)
            try writer.write(bytes)
        }
        #expect(writer.nextTensor == nil)
        try writer.finish()
        let expected = try Self.fixtureBytes(name)
        #expect(try Self.readBytes(out) == expected)
        #expect(writer.fileSize == expected.count)
        // And the reader sees the values that went in.
        let file = try GGUFFile(path: out)
        #expect(file.metadata.keys == metadata.map(\.key))
        #expect(file.metadata["t.string"]?.string == "Grüße, 世界 ✓")
        #expect(try file.metadata["t.array_nested"]?.array?.values().map { try $0.array?.integers() } == [[1, 2, 3], [4]])
        #expect(try file.tensor(named: "weight.f32").dequantized() == (0..<20).map { Float($0) * 0.5 - 3 })
    }

    static func error(_ body: () throws -> Void) -> WeightsError? {
        do { try body() } catch let error as WeightsError { return error } catch { return nil }
        return nil
    }

    @Test func misuseIsATypedErrorAndLeavesNoFile() throws {
        let directory = try temporaryDirectory()
        let path = directory + "/out.gguf"
        let arch: GGUFMetadata.Element = ("general.architecture", .string("x"))
        let q8 = GGUFWriter.Tensor(name: "q", type: .q8_0, shape: [2, 64])   // 4 blocks, 136 bytes

        var e = Self.error { _ = try GGUFWriter(path: path, metadata: [arch, arch], tensors: []) }
        #expect(e?.code == .invalidArgument && e?.reason.contains("general.architecture") == true)
        e = Self.error { _ = try GGUFWriter(path: path, metadata: [("general.alignment", .uint32(48))], tensors: []) }
        #expect(e?.code == .invalidArgument)
        e = Self.error { _ = try GGUFWriter(path: path, metadata: [("general.alignment", .uint64(64))], tensors: []) }
        #expect(e?.code == .invalidArgument)
        e = Self.error { _ = try GGUFWriter(path: path, metadata: [], tensors: [q8, q8]) }
        #expect(e?.code == .duplicateTensorName && e?.tensor == "q")
        e = Self.error { _ = try GGUFWriter(path: path, metadata: [], tensors: [.init(name: "r", type: .q4_K, shape: [2, 128])]) }
        #expect(e?.code == .invalidArgument && e?.tensor == "r")
        e = Self.error { _ = try GGUFWriter(path: path, metadata: [], tensors: [.init(name: "d", type: .f32, dimensions: [1, 1, 1, 1, 1])]) }
        #expect(e?.code == .invalidArgument && e?.tensor == "d")
        e = Self.error { _ = try GGUFWriter(path: path, metadata: [], tensors: [.init(name: "n", type: .f32, dimensions: [-1])]) }
        #expect(e?.code == .invalidArgument)
        e = Self.error { _ = try GGUFWriter(path: path, metadata: [], tensors: [.init(name: "o", type: .f32, dimensions: [1 << 40, 1 << 40])]) }
        #expect(e?.code == .validationOverflow && e?.tensor == "o")

        // Too many bytes for a tensor, bytes after the last, and a finish with bytes missing.
        let writer = try GGUFWriter(path: path, metadata: [arch], tensors: [q8])
        e = Self.error { try writer.write([UInt8](repeating: 0, count: 137)) }
        #expect(e?.code == .byteCountMismatch && e?.tensor == "q" && e?.file == path)
        try writer.write([UInt8](repeating: 0, count: 100))
        e = Self.error { try writer.finish() }
        #expect(e?.code == .byteCountMismatch && e?.tensor == "q")
        #expect(!FileManager.default.fileExists(atPath: path))
        try writer.write([UInt8](repeating: 0, count: 36))
        e = Self.error { try writer.write([1]) }
        #expect(e?.code == .byteCountMismatch)
        try writer.finish()
        let file = try GGUFFile(path: path)
        #expect(file.tensors.map(\.name) == ["q"] && file.tensors[0].shape == [2, 64])
        #expect(file.fileSize == file.dataOffset + 160)   // 136 bytes padded to 32
    }

    @Test func emptyTensorsAndArraysAreWrittenAndRead() throws {
        let path = try temporaryDirectory() + "/empty.gguf"
        let empty = try GGUFArray(elementType: .uint32, values: [])
        let writer = try GGUFWriter(path: path, metadata: [("a", .array(empty))],
                                    tensors: [.init(name: "none", type: .f32, shape: [0]), .init(name: "one", type: .f32, shape: [1])])
        #expect(writer.nextTensor?.name == "one")
        try writer.write([0, 0, 0x80, 0x3F])
        try writer.finish()
        let file = try GGUFFile(path: path)
        #expect(file.metadata["a"]?.array?.count == 0)
        #expect(file.tensors.map(\.offset) == [0, 0])
        #expect(try file.tensor(named: "one").dequantized() == [1])
        #expect(Self.error { _ = try GGUFArray(elementType: .int8, values: [.uint8(1)]) }?.code == .invalidArgument)
    }
}
