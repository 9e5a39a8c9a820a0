import Testing
import Weights

/// One test per GGUF reader rule (Spec/gguf.md), each on bytes that break only that rule.
@Suite struct GGUFReaderTests {
    /// A valid file: two keys, an F32 vector and a Q8_0 matrix.
    func valid() -> GGUFBuilder {
        var builder = GGUFBuilder()
        builder.add("general.architecture", string: "test")
        builder.add("test.count", uint32: 7)
        builder.tensor("a", dimensions: [4])
        builder.tensor("b", dimensions: [32, 2], type: .q8_0, offset: 32)
        return builder
    }

    @Test func validFileOpens() throws {
        for version: UInt32 in [2, 3] {
            var builder = valid()
            builder.version = version
            let file = try GGUFFile(bytes: builder.bytes(), path: "test.gguf")
            #expect(file.version == version)
            #expect(file.alignment == 32)
            #expect(file.metadata.keys == ["general.architecture", "test.count"])
            #expect(file.metadata["general.architecture"]?.string == "test")
            #expect(file.metadata["test.count"] == .uint32(7))
            #expect(file.metadata["test.count"]?.int == 7)
            #expect(file.tensors.map(\.name) == ["a", "b"])
            let b = try #require(file.tensorInfo(named: "b"))
            #expect(b.dimensions == [32, 2])
            #expect(b.shape == [2, 32])
            #expect(b.type == .q8_0)
            #expect(b.byteCount == 68)
            #expect(b.elementCount == 64)
            #expect(file.dataOffset % 32 == 0 && file.dataOffset >= builder.headerLength)
            let bytes = builder.bytes()
            let view = try file.tensor(named: "b")
            #expect(view.copyBytes() == Array(bytes[(file.dataOffset + 32)..<(file.dataOffset + 100)]))
            #expect(view.withBytes { $0.byteCount } == 68)
            #expect(view.span.byteCount == 68)
            // Addresses compared as integers: the view must point into the file's own mapping.
            let base = unsafe view.withUnsafeBytes { unsafe $0.baseAddress.map { Int(bitPattern: $0) } }
            let mapped = unsafe file.storage.bytes.baseAddress.map { Int(bitPattern: $0) + file.dataOffset + 32 }
            #expect(base == mapped)
        }
    }

    @Test func wrongMagicIsUnsupportedFormat() {
        var builder = valid()
        builder.magic = Array("GGUG".utf8)
        let error = ggufError(builder.bytes())
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.offset == 0)
        for count in 0..<4 { #expect(ggufError(Array("GGUF".utf8.prefix(count)))?.code == .unsupportedFormat) }
    }

    @Test func versionsOtherThan2And3AreUnsupported() {
        for version: UInt32 in [0, 1, 4, 100] {
            var builder = valid()
            builder.version = version
            let error = ggufError(builder.bytes())
            #expect(error?.code == .unsupportedFormat)
            #expect(error?.offset == 4)
        }
    }

    @Test func bigEndianFileIsRefusedByName() {
        var builder = valid()
        builder.version = UInt32(3).byteSwapped
        let error = ggufError(builder.bytes())
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.reason.contains("big-endian") == true)
    }

    @Test func truncationAnywhereIsAnErrorNeverATrap() throws {
        let builder = valid()
        let bytes = builder.bytes()
        let file = try GGUFFile(bytes: bytes, path: "test.gguf")
        for count in 0..<bytes.count {
            let error = ggufError(Array(bytes.prefix(count)))
            if count < 4 {
                #expect(error?.code == .unsupportedFormat)
            } else if count < builder.headerLength {
                #expect(error?.code == .invalidHeader, "cut at \(count)")
                #expect(error?.offset != nil)
            } else {
                #expect(error?.code == .invalidOffset, "cut at \(count)")
                #expect(error?.tensor == (count < file.dataOffset + 16 ? "a" : "b"), "cut at \(count)")
            }
        }
    }

    @Test func countsBeyondTheFileAreRefusedBeforeAllocating() {
        for count: UInt64 in [1000, 1 << 40, UInt64(Int.max)] {
            var keys = valid()
            keys.keyCount = count
            #expect(ggufError(keys.bytes())?.code == .invalidHeader)
            var tensors = valid()
            tensors.tensorCount = count
            #expect(ggufError(tensors.bytes())?.code == .invalidHeader)
        }
        var huge = valid()
        huge.keyCount = UInt64.max
        let error = ggufError(huge.bytes())
        #expect(error?.code == .validationOverflow)
        #expect(error?.offset == 16)
    }

    @Test func stringLongerThanTheRestOfTheFileIsInvalidHeader() {
        var builder = GGUFBuilder()
        builder.add("k", type: 8, payload: GGUFBuilder.le(UInt64(1000)) + Array("short".utf8))
        let error = ggufError(builder.bytes())
        #expect(error?.code == .invalidHeader)
        #expect(error?.offset == 24 + 9 + 4)  // header, key, value type
        #expect(error?.reason.contains("'k'") == true)
        var key = GGUFBuilder()
        key.pairs = [GGUFBuilder.le(UInt64.max >> 1) + Array("key".utf8)]
        #expect(ggufError(key.bytes())?.code == .invalidHeader)
    }

    @Test func arrayCountLargerThanTheRestOfTheFileIsInvalidHeader() {
        for (type, count) in [(UInt32(0), UInt64(100)), (10, 1 << 61), (8, 1 << 40), (9, UInt64(Int.max))] {
            var builder = GGUFBuilder()
            builder.add("list", type: 9, payload: GGUFBuilder.array(type: type, count: count, items: [1, 2, 3, 4]))
            let error = ggufError(builder.bytes())
            #expect(error?.code == .invalidHeader)
            #expect(error?.offset == 24 + 12 + 4 + 4)
        }
    }

    func nested(depth: Int) -> GGUFBuilder {
        var payload = GGUFBuilder.array(type: 0, count: 1, items: [42])
        for _ in 1..<depth { payload = GGUFBuilder.array(type: 9, count: 1, items: payload) }
        var builder = GGUFBuilder()
        builder.add("deep", type: 9, payload: payload)
        return builder
    }

    @Test func arraysNestedDeeperThanTheLimitAreInvalidHeader() throws {
        let file = try GGUFFile(bytes: nested(depth: GGUFArray.maximumDepth).bytes(), path: "test.gguf")
        var value = try #require(file.metadata["deep"])
        for _ in 1..<GGUFArray.maximumDepth {
            let inner = try #require(value.array)
            value = try inner.element(at: 0)
        }
        #expect(try value.array?.integers() == [42])
        let error = ggufError(nested(depth: GGUFArray.maximumDepth + 1).bytes())
        #expect(error?.code == .invalidHeader)
        #expect(error?.reason.contains("deeper") == true)
    }

    @Test func unknownValueTypesAreInvalidHeader() {
        var scalar = GGUFBuilder()
        scalar.add("k", type: 13, payload: [0])
        #expect(ggufError(scalar.bytes())?.code == .invalidHeader)
        var items = GGUFBuilder()
        items.add("k", type: 9, payload: GGUFBuilder.array(type: 99, count: 1, items: [0]))
        #expect(ggufError(items.bytes())?.code == .invalidHeader)
    }

    @Test func keysThatAreNotUTF8AreInvalidHeader() {
        var builder = GGUFBuilder()
        builder.pairs = [GGUFBuilder.string([0x6B, 0xFF]) + GGUFBuilder.le(UInt32(0)) + [1]]
        let error = ggufError(builder.bytes())
        #expect(error?.code == .invalidHeader)
        #expect(error?.offset == 24)
    }

    @Test func boolOtherThan0Or1IsInvalidData() {
        var builder = GGUFBuilder()
        builder.add("flag", type: 7, payload: [2])
        let error = ggufError(builder.bytes())
        #expect(error?.code == .invalidData)
        #expect(error?.reason.contains("'flag'") == true)
    }

    @Test func duplicateKeysAreInvalidHeader() {
        var builder = valid()
        builder.add("test.count", uint32: 8)
        let error = ggufError(builder.bytes())
        #expect(error?.code == .invalidHeader)
        #expect(error?.reason.contains("'test.count'") == true)
    }

    @Test func alignmentMustBeAUInt32PowerOfTwo() throws {
        for value: UInt32 in [0, 3, 48, 100] {
            var builder = valid()
            builder.add("general.alignment", uint32: value)
            let error = ggufError(builder.bytes())
            #expect(error?.code == .invalidData)
            #expect(error?.reason.contains("general.alignment") == true)
        }
        var wrongType = valid()
        wrongType.add("general.alignment", type: 10, payload: GGUFBuilder.le(UInt64(64)))
        #expect(ggufError(wrongType.bytes())?.code == .invalidData)

        var aligned = valid()
        aligned.add("general.alignment", uint32: 64)
        aligned.alignment = 64
        aligned.tensors[1].offset = 64
        let file = try GGUFFile(bytes: aligned.bytes(), path: "test.gguf")
        #expect(file.alignment == 64)
        #expect(file.dataOffset % 64 == 0)
        // Offset 32 is aligned for the default but not for 64.
        var misaligned = aligned
        misaligned.tensors[1].offset = 32
        #expect(ggufError(misaligned.bytes())?.code == .invalidOffset)
    }

    @Test func dimensionCountMustBe1To4() throws {
        for count in [0, 5] {
            var builder = valid()
            builder.tensors[0].dimensions = Array(repeating: 1, count: count)
            let error = ggufError(builder.bytes())
            #expect(error?.code == .invalidData)
            #expect(error?.tensor == "a")
        }
        var four = valid()
        four.tensors[0].dimensions = [1, 2, 1, 2]
        #expect(try GGUFFile(bytes: four.bytes(), path: "t").tensors[0].shape == [2, 1, 2, 1])
        var lying = valid()
        lying.tensors[0].dimensionCount = 1 << 31
        #expect(ggufError(lying.bytes())?.code == .invalidData)
    }

    @Test func dimensionProductsThatOverflowAreValidationOverflow() {
        var product = valid()
        product.tensors[0].dimensions = [1 << 32, 1 << 32]
        let error = ggufError(product.bytes())
        #expect(error?.code == .validationOverflow)
        #expect(error?.tensor == "a")
        var single = valid()
        single.tensors[0].dimensions = [UInt64.max]
        #expect(ggufError(single.bytes())?.code == .validationOverflow)
        // Elements fit, bytes do not.
        var bytes = valid()
        bytes.tensors[0].dimensions = [1 << 62]
        #expect(ggufError(bytes.bytes())?.code == .validationOverflow)
    }

    @Test func unknownGGMLTypesAreUnsupportedFormat() {
        for raw: UInt32 in [4, 5, 31, 99, .max] {
            var builder = valid()
            builder.tensors[0].type = raw
            let error = ggufError(builder.bytes())
            #expect(error?.code == .unsupportedFormat)
            #expect(error?.tensor == "a")
        }
    }

    @Test func rowsMustBeWholeBlocks() {
        var builder = valid()
        builder.tensors[1].dimensions = [48, 2]
        let error = ggufError(builder.bytes())
        #expect(error?.code == .invalidData)
        #expect(error?.tensor == "b")
    }

    @Test func duplicateTensorNamesAreRefused() {
        var builder = valid()
        builder.tensor("a", dimensions: [4], offset: 128)
        let error = ggufError(builder.bytes())
        #expect(error?.code == .duplicateTensorName)
        #expect(error?.tensor == "a")
    }

    @Test func misalignedOffsetsAreInvalidOffset() {
        var builder = valid()
        builder.tensors[1].offset = 16
        let error = ggufError(builder.bytes())
        #expect(error?.code == .invalidOffset)
        #expect(error?.tensor == "b")
    }

    @Test func offsetsPastTheFileAreInvalidOffset() {
        for offset: UInt64 in [4096, 1 << 40, UInt64(Int.max) & ~31] {
            var builder = valid()
            builder.tensors[1].offset = offset
            builder.dataLength = 100
            let error = ggufError(builder.bytes())
            #expect(error?.code == .invalidOffset)
            #expect(error?.tensor == "b")
        }
        var tooFar = valid()
        tooFar.tensors[1].offset = UInt64.max & ~31
        #expect(ggufError(tooFar.bytes())?.code == .validationOverflow)
    }

    @Test func overlappingTensorsAreInvalidOffset() {
        var builder = valid()
        builder.tensor("c", dimensions: [32], type: .q8_0, offset: 64)   // inside b's 32..<100
        let error = ggufError(builder.bytes())
        #expect(error?.code == .invalidOffset)
        #expect(error?.tensor == "c")
        #expect(error?.reason.contains("'b'") == true)
        #expect(error?.reason.contains("not 128") == true)
        var same = valid()
        same.tensors[1].offset = 0
        #expect(ggufError(same.bytes())?.code == .invalidOffset)
    }

    /// llama.cpp's rule: each tensor begins where the one before it ends, padded to the
    /// alignment. A gap, or data stored in another order than the entries, is refused.
    @Test func tensorsMustBePackedInFileOrder() throws {
        // (a's offset, b's offset): the tensor refused and what its message says.
        let cases: [(offsets: (UInt64, UInt64), tensor: String, says: String)] = [
            ((0, 64), "b", "not 32"),         // a gap after a's 16 bytes, padded to 32
            ((96, 0), "a", "first tensor"),   // b's data before a's
        ]
        for (offsets, tensor, says) in cases {
            var builder = valid()
            builder.tensors[0].offset = offsets.0
            builder.tensors[1].offset = offsets.1
            builder.dataLength = 256
            let error = ggufError(builder.bytes())
            #expect(error?.code == .invalidOffset, "\(offsets)")
            #expect(error?.tensor == tensor, "\(offsets)")
            #expect(error?.reason.contains(says) == true, "\(offsets)")
        }

        // A tensor of no elements takes no room: the next begins at the same offset.
        var empty = GGUFBuilder()
        empty.tensor("a", dimensions: [0])
        empty.tensor("b", dimensions: [4], offset: 0)
        empty.dataLength = 32
        let file = try GGUFFile(bytes: empty.bytes(), path: "empty.gguf")
        #expect(file.tensors.map(\.offset) == [0, 0])
    }

    @Test func arraysAreDecodedOnAccess() throws {
        var builder = GGUFBuilder()
        let items = GGUFBuilder.string("a") + GGUFBuilder.string("") + GGUFBuilder.string([0xC3, 0x28])
        builder.add("names", type: 9, payload: GGUFBuilder.array(type: 8, count: 3, items: items))
        let file = try GGUFFile(bytes: builder.bytes(), path: "test.gguf")
        let array = try #require(file.metadata["names"]?.array)
        #expect(array.elementType == .string)
        #expect(array.count == 3)
        #expect(try array.element(at: 1) == .string(""))
        #expect(try array.prefix(2) == [.string("a"), .string("")])
        // The third string is not UTF-8: found when decoded, not when opened.
        #expect(throws: WeightsError.self) { try array.strings() }
        #expect(throws: WeightsError.self) { try array.integers() }
        #expect(throws: WeightsError.self) { try array.element(at: 3) }
    }

    /// Random corruption of a valid file: every result is an open file or a `WeightsError`,
    /// and every tensor of a file that opens can be read and decoded.
    @Test func randomCorruptionNeverTraps() {
        let bytes = valid().bytes()
        var generator = SeededGenerator(seed: 13)
        var opened = 0
        for _ in 0..<3000 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<mutated.count, using: &generator)
                mutated[index] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) { mutated.removeLast(Int.random(in: 0..<mutated.count, using: &generator)) }
            guard let file = try? GGUFFile(bytes: mutated, path: "fuzz.gguf") else { continue }
            opened += 1
            for info in file.tensors where info.type.canDequantize {
                #expect((try? file.tensor(info).dequantized().count) == info.elementCount)
            }
        }
        #expect(opened > 0)
    }
}
