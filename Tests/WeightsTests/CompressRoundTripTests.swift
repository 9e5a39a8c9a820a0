import Foundation
import Testing
import Weights

@Suite("Compressed container: round trips and random access")
struct CompressRoundTripTests {
    /// Options small enough that the fixture's weight tensors span several chunks.
    static let smallChunks = CompressionOptions(level: 1, chunkSize: 4096, threads: 3)

    @Test("every dtype, empty and scalar tensors restore byte for byte", arguments: [1, 3])
    func everyDType(threads: Int) throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try CompressFixtures.everyDTypeFile(in: directory)
        var options = Self.smallChunks
        options.threads = threads
        let summary = try CompressedWriter.compress(file: input, to: directory + "/every.wzst", options: options)
        try CompressedFile(path: directory + "/every.wzst", threads: threads).decompress(to: directory + "/back.safetensors")

        let original = try CompressFixtures.read(input)
        #expect(try CompressFixtures.read(directory + "/back.safetensors") == original)
        #expect(try SHA256Digest.file(at: directory + "/back.safetensors") == SHA256Digest.file(at: input))
        #expect(summary.originalSize == original.count)
        #expect(summary.compressedSize == (try CompressFixtures.read(directory + "/every.wzst")).count)
        #expect(Set(DType.allCases).isSubset(of: Set(summary.tensors.map(\.info.dtype))))
    }

    @Test("every tensor read from the container equals the plain file's, in owned aligned storage")
    func randomAccessMatchesPlainFile() throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try CompressFixtures.everyDTypeFile(in: directory)
        try CompressedWriter.compress(file: input, to: directory + "/every.wzst", options: Self.smallChunks)
        let plain = try SafetensorsFile(path: input)
        let container = try CompressedFile(path: directory + "/every.wzst")
        #expect(container.tensors == plain.tensors)
        #expect(container.metadata == plain.metadata)
        #expect(container.headerLength == plain.headerLength)
        #expect(container.originalSize == plain.fileSize)
        // In reverse order, so no tensor is read because a neighbour was.
        for info in plain.tensors.reversed() {
            let expected = try plain.tensor(named: info.name)
            let actual = try container.tensor(named: info.name)
            #expect(actual.copyBytes() == expected.copyBytes(), "tensor \(info.name)")
            #expect(actual.dtype == info.dtype && actual.shape == info.shape)
            unsafe #expect(actual.withUnsafeBytes { Int(bitPattern: $0.baseAddress) % 64 } == 0)
            let entry = try #require(container.compressedInfo(named: info.name))
            #expect(entry.sha256 == SHA256Digest.hex(of: expected))
        }
        let weights = try #require(container.compressedInfo(named: "weights.f32"))
        #expect(weights.chunkCount == 5 && weights.planeCount == 5 && weights.grouping == .exponentWindow)
        #expect(container.compressedInfo(named: "weights.f16")?.grouping == .exponentPlanes)
        #expect(weights.compressedSize < weights.info.byteCount)
        #expect(try container.tensor(named: "weights.bf16").floats() == plain.tensor(named: "weights.bf16").floats())
        #expect(container.compressedInfo(named: "random.I32")?.grouping == ByteGrouping.none)
        #expect(container.compressedInfo(named: "empty")?.chunkCount == 0)
        try container.verify()
    }

    @Test("reading a tensor touches only its own chunks")
    func readsOnlyItsChunks() throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try CompressFixtures.everyDTypeFile(in: directory)
        try CompressedWriter.compress(file: input, to: directory + "/every.wzst", options: Self.smallChunks)
        var bytes = try CompressFixtures.read(directory + "/every.wzst")
        let intact = try CompressFixtures.open(bytes)
        // Wreck every frame of weights.f32; every other tensor must still read.
        let f32 = try #require(intact.compressedInfo(named: "weights.f32"))
        let start = intact.compressedTensors.prefix { $0.name != "weights.f32" }.reduce(16) { $0 + $1.compressedSize }
        for offset in start..<start + f32.compressedSize { bytes[offset] = 0 }
        let damaged = try CompressFixtures.open(bytes)
        let plain = try SafetensorsFile(path: input)
        for info in plain.tensors where info.name != "weights.f32" {
            #expect(try damaged.tensor(named: info.name).copyBytes() == plain.tensor(named: info.name).copyBytes())
        }
        let error = #expect(throws: WeightsError.self) { try damaged.tensor(named: "weights.f32") }
        #expect(error?.code == .corruptData && error?.tensor == "weights.f32")
    }

    @Test("a header no canonical writer makes is kept byte for byte")
    func nonCanonicalHeader() throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try CompressFixtures.nonCanonicalFile(in: directory)
        try CompressedWriter.compress(file: input, to: directory + "/odd.wzst")
        try CompressedFile(path: directory + "/odd.wzst").decompress(to: directory + "/back.safetensors")
        #expect(try CompressFixtures.read(directory + "/back.safetensors") == CompressFixtures.read(input))
        let container = try CompressedFile(path: directory + "/odd.wzst")
        #expect(container.tensors.map(\.name) == ["a", "c", "b"])
        #expect(container.metadata == ["z": "1", "a": "2"])
    }

    @Test("Checkpoint.open reads a container by its magic, whatever its name")
    func checkpointOpen() throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try CompressFixtures.everyDTypeFile(in: directory)
        try CompressedWriter.compress(file: input, to: directory + "/misnamed.safetensors", options: Self.smallChunks)
        let source = try Checkpoint.open(directory + "/misnamed.safetensors", formats: Checkpoint.allFormats)
        #expect(source is CompressedFile)
        #expect(try source.tensor(named: "weights.f16").copyBytes()
                == SafetensorsFile(path: input).tensor(named: "weights.f16").copyBytes())
        let missing = #expect(throws: WeightsError.self) { try source.tensor(named: "nope") }
        #expect(missing?.code == .tensorNotFound && missing?.tensor == "nope")
        // The core alone names the container instead of reading it as a broken safetensors file.
        let core = #expect(throws: WeightsError.self) { try Checkpoint.open(directory + "/misnamed.safetensors") }
        #expect(core?.code == .unsupportedFormat && core?.file == directory + "/misnamed.safetensors")
    }

    @Test("every level and chunk size gives back the same bytes", arguments: [-5, 1, 3, 19], [4096, 1 << 20])
    func levelsAndChunkSizes(level: Int, chunkSize: Int) throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try CompressFixtures.everyDTypeFile(in: directory)
        try CompressedWriter.compress(file: input, to: directory + "/every.wzst",
                                      options: CompressionOptions(level: level, chunkSize: chunkSize, threads: 2))
        let container = try CompressedFile(path: directory + "/every.wzst")
        #expect(container.chunkSize == chunkSize)
        try container.decompress(to: directory + "/back.safetensors")
        #expect(try CompressFixtures.read(directory + "/back.safetensors") == CompressFixtures.read(input))
    }

    @Test("weight-like tensors shrink: the exponent plane compresses, the rest is stored")
    func weightsShrink() throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let values = CompressFixtures.weights(1 << 18, seed: 11)
        let input = directory + "/w.safetensors"
        try SafetensorsWriter.write([try Tensor(name: "f32", shape: [1 << 18], elements: values),
                                     try Tensor(name: "bf16", shape: [1 << 18], elements: values.map(BFloat16.init))],
                                    metadata: nil, to: input)
        let summary = try CompressedWriter.compress(file: input, to: directory + "/w.wzst")
        let f32 = try #require(summary.tensors.first { $0.name == "f32" })
        let bf16 = try #require(summary.tensors.first { $0.name == "bf16" })
        // Entropy bounds for normal(0, 0.02): about 26.7 of 32 bits, 10.7 of 16 bits.
        #expect(f32.ratio > 1.15 && f32.ratio < 32 / 26.0)
        #expect(bf16.ratio > 1.40 && bf16.ratio < 16 / 10.3)
    }

    @Test("bad options are refused before anything is written")
    func badOptions() throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try CompressFixtures.everyDTypeFile(in: directory)
        let cases: [CompressionOptions] = [
            CompressionOptions(level: 23), CompressionOptions(level: -200_000),
            CompressionOptions(chunkSize: 4100), CompressionOptions(chunkSize: 2048), CompressionOptions(chunkSize: 128 << 20),
            CompressionOptions(threads: 0),
        ]
        for options in cases {
            let error = #expect(throws: WeightsError.self) {
                try CompressedWriter.compress(file: input, to: directory + "/bad.wzst", options: options)
            }
            #expect(error?.code == .invalidArgument && error?.file == directory + "/bad.wzst")
            #expect(!FileManager.default.fileExists(atPath: directory + "/bad.wzst"))
        }
    }
}

@Suite("Byte grouping")
struct CompressByteGroupingTests {
    @Test("BF16 1.0 and -1.0: after the swap the high plane holds the exponent alone")
    func bf16KnownAnswer() {
        // 1.0 = 0x3F80 and -1.0 = 0xBF80 share the exponent 127. Swapping bit 15 (sign) with
        // bit 7 (the exponent's low bit) gives 0xBF00 and 0xBF80: equal high bytes.
        #expect(Self.split([0x80, 0x3F, 0x80, 0xBF], .exponentPlanes, width: 2) == [0x00, 0x80, 0xBF, 0xBF])
        #expect(Self.split([0x80, 0x3F, 0x80, 0xBF], .planes, width: 2) == [0x80, 0x80, 0x3F, 0xBF])
    }

    @Test("F32 1.0 and -2.0, and F64 1.0")
    func widerKnownAnswers() {
        // 1.0f = 0x3F800000 -> 0xBF000000; -2.0f = 0xC0000000 -> 0x40800000 (bits 31 and 23).
        #expect(Self.split([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0], .exponentPlanes, width: 4)
                == [0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0xBF, 0x40])
        // 1.0 = 0x3FF0000000000000 -> 0xBF70000000000000 (bits 63 and 55).
        #expect(Self.split([0, 0, 0, 0, 0, 0, 0xF0, 0x3F], .exponentPlanes, width: 8) == [0, 0, 0, 0, 0, 0, 0x70, 0xBF])
    }

    @Test("BF16 1.0 and -1.0, F32 1.0 and -2.0: an exponent window's planes")
    func exponentWindowKnownAnswers() {
        // 1.0 = 0x3F80 and -1.0 = 0xBF80: sign 0 and 1, exponent 127 = 0b01111111, mantissa 0.
        // Fields (sign, then the five mantissa bits below the window; six bits each, packed):
        // 0 and 0b100000 -> bits 0-5 and 6-11 -> 00 08. Top bits (the exponent's top two, 01
        // and 01, four to a byte): 05. Window (exponent's low six bits, mantissa's top two): FC FC.
        #expect(Self.split([0x80, 0x3F, 0x80, 0xBF], .exponentWindow, width: 2) == [0x00, 0x08, 0x05, 0xFC, 0xFC])
        // 1.75 = 0x3FE0: the mantissa's top two bits 11 enter the window (FF).
        #expect(Self.split([0xE0, 0x3F], .exponentWindow, width: 2) == [0x00, 0x01, 0xFF])
        // 0x1234: top bits 00, window 0x91, fields 0x14 (the low five bits).
        #expect(Self.split([0x34, 0x12], .exponentWindow, width: 2) == [0x14, 0x00, 0x91])
        // F32 1.0 and -2.0 (0xC0000000: exponent 128 = 0b10000000, top bits 10): the low
        // bytes as two byte planes, then fields 00 08, top bits 09, window FC 00.
        #expect(Self.split([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0], .exponentWindow, width: 4)
                == [0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x09, 0xFC, 0x00])
        #expect(ByteGrouping.exponentWindow.planeSizes(byteCount: 2 * 5, width: 2) == [4, 2, 5])
        #expect(ByteGrouping.exponentWindow.planeSizes(byteCount: 4 * 8, width: 4) == [8, 8, 6, 2, 8])
        #expect(ByteGrouping.exponentPlanes.planeSizes(byteCount: 12, width: 4) == [3, 3, 3, 3])
    }

    @Test("an exponent window restores every BF16 value, and every F32 top half with random low bytes")
    func exponentWindowEveryValue() {
        var bf16 = [UInt8]()
        bf16.reserveCapacity(1 << 17)
        for value in UInt16.min...UInt16.max { bf16 += [UInt8(value & 0xFF), UInt8(value >> 8)] }
        let f32 = (0..<65536).flatMap { index -> [UInt8] in
            [UInt8(truncatingIfNeeded: index &* 37), UInt8(truncatingIfNeeded: index &* 101), UInt8(index & 0xFF), UInt8(index >> 8)]
        }
        for (bytes, width) in [(bf16, 2), (f32, 4)] {
            let planes = Self.split(bytes, .exponentWindow, width: width)
            #expect(planes.count == bytes.count)
            #expect(Self.split(bytes, .exponentWindow, width: width, portable: true) == planes, "width \(width)")
            for portable in [false, true] {
                var restored = [UInt8](repeating: 0, count: bytes.count)
                unsafe planes.withUnsafeBytes { source in
                    unsafe restored.withUnsafeMutableBytes { unsafe ByteGrouping.exponentWindow.join(source, width: width, into: $0, portable: portable) }
                }
                #expect(restored == bytes, "width \(width), portable \(portable)")
            }
        }
    }

    @Test("join undoes split for every grouping and width", arguments: ByteGrouping.allCases, [2, 4, 8])
    func joinUndoesSplit(grouping: ByteGrouping, width: Int) {
        guard grouping != .exponentWindow || ByteGrouping.windowWidths.contains(width) else { return }
        let bytes = CompressFixtures.bytes(8 * 1001, seed: UInt64(width))
        let planes = Self.split(bytes, grouping, width: width)
        var restored = [UInt8](repeating: 0, count: bytes.count)
        unsafe planes.withUnsafeBytes { source in
            unsafe restored.withUnsafeMutableBytes { unsafe grouping.join(source, width: width, into: $0) }
        }
        #expect(restored == bytes)
        #expect(grouping == .none || grouping == .blockFields ? planes == bytes : planes != bytes)
    }

    @Test("the SIMD and portable splits and joins agree, at every length around a vector step",
          arguments: [ByteGrouping.planes, .exponentPlanes, .exponentWindow], [2, 4])
    func joinKernelsAgree(grouping: ByteGrouping, width: Int) {
        // Exponent windows take 16 elements a step while 24 remain: lengths around those too.
        for count in [0, 1, 2, 3, 4, 5, 15, 16, 17, 23, 24, 25, 31, 32, 33, 39, 40, 41, 63, 64, 65, 1001] {
            let bytes = CompressFixtures.bytes(width * count, seed: UInt64(count))
            let planes = Self.split(bytes, grouping, width: width)
            #expect(Self.split(bytes, grouping, width: width, portable: true) == planes, "count \(count)")
            #expect(grouping != .exponentWindow || planes.count == 2 * count + (width - 2) * count + (count % 4 == 0 ? 0 : 1))
            var best = [UInt8](repeating: 0, count: bytes.count), portable = best
            unsafe planes.withUnsafeBytes { source in
                unsafe best.withUnsafeMutableBytes { unsafe grouping.join(source, width: width, into: $0, portable: false) }
                unsafe portable.withUnsafeMutableBytes { unsafe grouping.join(source, width: width, into: $0, portable: true) }
            }
            #expect(best == bytes, "count \(count)")
            #expect(portable == bytes, "count \(count)")
        }
    }

    @Test("the writer groups floating dtypes only")
    func preferred() {
        #expect(ByteGrouping.preferred(for: .bf16) == (.exponentWindow, 2))
        #expect(ByteGrouping.preferred(for: .f32) == (.exponentWindow, 4))
        #expect(ByteGrouping.preferred(for: .c64) == (.exponentWindow, 4))
        #expect(ByteGrouping.preferred(for: .f16) == (.exponentPlanes, 2))
        #expect(ByteGrouping.preferred(for: .f64) == (.exponentPlanes, 8))
        #expect(ByteGrouping.preferred(for: .i32) == (.none, 1))
        #expect(ByteGrouping.preferred(for: .f8E4M3) == (.none, 1))
    }

    static func split(_ bytes: [UInt8], _ grouping: ByteGrouping, width: Int, portable: Bool = false) -> [UInt8] {
        // Filled with 0xA5 first, so that a byte the split leaves unwritten shows.
        var out = [UInt8](repeating: 0xA5, count: grouping.planeSizes(byteCount: bytes.count, width: width).reduce(0, +))
        unsafe bytes.withUnsafeBytes { source in
            unsafe out.withUnsafeMutableBytes { unsafe grouping.split(source, width: width, into: $0, portable: portable) }
        }
        return out
    }
}

@Suite("Sampled byte entropy")
struct ByteEntropyTests {
    static func bits(_ bytes: [UInt8]) -> Double {
        unsafe bytes.withUnsafeBytes { unsafe ByteEntropy.sampledBits(of: $0) }
    }

    @Test("random bytes count as random; zeros, skewed bytes and short planes do not")
    func estimates() {
        let size = ByteEntropy.stride * ByteEntropy.minimumSamples
        let random = CompressFixtures.bytes(size, seed: 3)
        #expect(Self.bits(random) >= ByteEntropy.randomThreshold && Self.bits(random) <= 8)
        #expect(Self.bits([UInt8](repeating: 0, count: size)) == 0)
        // Every sampled byte is one of 128 values: 7 bits, less the estimate's bias (127 / (2 · 4096 · ln 2)).
        #expect(abs(Self.bits(random.map { $0 & 0x7F }) - 7) < 0.05)
        // The sample counts every 16th byte only: random bytes there, zeros elsewhere, look random.
        let sampledRandom = random.enumerated().map { $0.offset % ByteEntropy.stride == 0 ? $0.element : 0 }
        #expect(Self.bits(sampledRandom) >= ByteEntropy.randomThreshold)
        #expect(Self.bits(Array(random.prefix(size - ByteEntropy.stride))) == 0, "below the minimum sample")
    }
}
