import Foundation
import Testing
import Weights

@Suite("Compressed container: corruption, truncation and hostile indexes")
struct CompressIntegrityTests {
    /// A small container of the every-dtype fixture, and the plain file it came from.
    static func fixture() throws -> (container: [UInt8], plain: SafetensorsFile) {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try CompressFixtures.everyDTypeFile(in: directory)
        try CompressedWriter.compress(file: input, to: directory + "/every.wzst",
                                      options: CompressionOptions(level: 3, chunkSize: 4096, threads: 2))
        return (try CompressFixtures.read(directory + "/every.wzst"), try SafetensorsFile(path: input))
    }

    /// Opens `bytes` and reads every tensor: returns the first error, and fails the test if any
    /// tensor comes back with bytes other than the original's.
    static func readAll(_ bytes: [UInt8], plain: SafetensorsFile, context: Comment) -> WeightsError? {
        do {
            let container = try CompressFixtures.open(bytes, threads: 1)
            var first: WeightsError?
            for info in plain.tensors {
                do {
                    let tensor = try container.tensor(named: info.name)
                    #expect(tensor.copyBytes() == (try plain.tensor(named: info.name)).copyBytes(), context)
                } catch let error as WeightsError {
                    #expect(error.tensor == info.name, context)
                    first = first ?? error
                }
            }
            return first
        } catch let error as WeightsError {
            return error
        } catch {
            Issue.record("not a WeightsError: \(error)", )
            return nil
        }
    }

    @Test("a damaged byte anywhere gives an error or the right bytes, never wrong ones")
    func everyByteFlip() throws {
        let (container, plain) = try Self.fixture()
        // Every byte in release; about 250 of them in a debug build. The flipped bit alternates
        // between the lowest and the highest, so both ends of every field get hit.
        #if DEBUG
        let stride = container.count / 250 | 1
        #else
        let stride = 1
        #endif
        var detected = 0, harmless = 0
        for offset in Swift.stride(from: 0, to: container.count, by: stride) {
            var damaged = container
            let mask: UInt8 = (offset / stride) % 2 == 0 ? 0x01 : 0x80
            damaged[offset] ^= mask
            if Self.readAll(damaged, plain: plain, context: "byte \(offset) ^ \(mask)") != nil { detected += 1 } else { harmless += 1 }
        }
        // Harmless flips are rare: bits a zstd decoder does not need, such as a window size.
        #expect(harmless * 50 < detected)
    }

    @Test("damage in each region is reported with the right code, and in frames with the tensor")
    func eachRegion() throws {
        let (container, plain) = try Self.fixture()
        let layout = CompressLayout(container)
        let intact = try CompressFixtures.open(container)
        func damaged(at offset: Int) -> [UInt8] {
            var copy = container
            copy[offset] ^= 0x40
            return copy
        }
        // Prologue: magic, version, flags.
        #expect(Self.readAll(damaged(at: 3), plain: plain, context: "magic")?.code == .unsupportedFormat)
        #expect(Self.readAll(damaged(at: 8), plain: plain, context: "version")?.code == .unsupportedFormat)
        #expect(Self.readAll(damaged(at: 10), plain: plain, context: "flags")?.code == .corruptData)
        // The middle of every tensor's first frame: that tensor, and no other, fails.
        var start = 16
        for entry in intact.compressedTensors {
            defer { start += entry.compressedSize }
            guard entry.compressedSize > 0 else { continue }
            let copy = try CompressFixtures.open(damaged(at: start + entry.compressedSize / 2 / entry.planeCount))
            let error = #expect(throws: WeightsError.self, "\(entry.name)") { try copy.tensor(named: entry.name) }
            #expect(error?.code == .corruptData && error?.tensor == entry.name && error?.offset != nil)
            #expect(error?.description.contains(entry.name) == true)
        }
        // The index and the trailer.
        for offset in [layout.indexRange.lowerBound, layout.indexRange.upperBound - 1, layout.trailerStart,
                       layout.trailerStart + 9, layout.trailerStart + 20, container.count - 1] {
            let error = Self.readAll(damaged(at: offset), plain: plain, context: "byte \(offset)")
            #expect(error?.code == .corruptData, "byte \(offset)")
        }
    }

    @Test("a truncated container is refused, wherever it is cut")
    func truncation() throws {
        let (container, plain) = try Self.fixture()
        let layout = CompressLayout(container)
        #if DEBUG
        let lengths = [0, 1, 7, 8, 15, 16, 17, 71, 72, 500, layout.indexRange.lowerBound - 1, layout.indexRange.lowerBound,
                       layout.indexRange.lowerBound + 1, layout.trailerStart, container.count - 8, container.count - 1]
        #else
        let lengths = Array(0..<container.count)
        #endif
        for length in lengths {
            let error = Self.readAll(Array(container.prefix(length)), plain: plain, context: "length \(length)")
            #expect(error != nil, "length \(length)")
            #expect(length < 8 ? error?.code == .unsupportedFormat : error?.code == .corruptData, "length \(length)")
        }
    }

    @Test("an index that passes its checksum is still checked field by field")
    func hostileIndex() throws {
        let (container, _) = try Self.fixture()
        let layout = CompressLayout(container)
        let intact = try CompressFixtures.open(container)
        let index = layout.index
        func rewritten(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
            var copy = index
            edit(&copy)
            return CompressLayout.replacingIndex(of: container, with: copy)
        }
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
            unsafe withUnsafeBytes(of: value.littleEndian) { unsafe bytes.replaceSubrange(offset..<offset + MemoryLayout<T>.size, with: $0) }
        }
        // The rewrite itself is faithful.
        #expect(rewritten { _ in } == container)

        let weights = try #require(intact.compressedTensors.firstIndex { $0.name == "weights.f32" })
        let record = layout.recordOffset(weights)
        let framesBefore = intact.compressedTensors[..<weights].reduce(0) { $0 + $1.chunkCount * $1.planeCount }
        let allFrames = intact.compressedTensors.reduce(0) { $0 + $1.chunkCount * $1.planeCount }
        let firstFrameSize = index.count - 4 * allFrames + 4 * framesBefore
        let cases: [(String, [UInt8], String?)] = [
            ("chunk count", rewritten { put(UInt32(4), at: record + 4, in: &$0) }, "weights.f32"),
            ("grouping", rewritten { $0[record] = 9 }, "weights.f32"),
            ("plane count", rewritten { $0[record + 1] = 4 }, "weights.f32"),
            ("reserved", rewritten { $0[record + 2] = 1 }, "weights.f32"),
            ("zero frame", rewritten { put(UInt32(0), at: firstFrameSize, in: &$0) }, "weights.f32"),
            ("huge frame", rewritten { put(UInt32.max, at: firstFrameSize, in: &$0) }, "weights.f32"),
            ("chunk size", rewritten { put(UInt32(4100), at: layout.chunkSizeOffset, in: &$0) }, nil),
            ("tiny chunk size", rewritten { put(UInt32(8), at: layout.chunkSizeOffset, in: &$0) }, nil),
            ("tensor count", rewritten { put(UInt32(3), at: layout.chunkSizeOffset + 4, in: &$0) }, nil),
            ("header length", rewritten { put(UInt64.max, at: layout.headerLengthOffset, in: &$0) }, nil),
            ("source format's reserved bytes", rewritten { $0[3] = 1 }, nil),
            ("short index", rewritten { $0.removeLast(4) }, nil),
            ("long index", rewritten { $0 += [0, 0, 0, 0] }, nil),
        ]
        for (name, bytes, tensor) in cases {
            let error = #expect(throws: WeightsError.self, "\(name)") { try CompressFixtures.open(bytes) }
            #expect(error?.code == .corruptData, "\(name): \(String(describing: error))")
            if let tensor { #expect(error?.tensor == tensor, "\(name): \(String(describing: error))") }
        }
    }

    @Test("exponent windows make a version 3 container; a version 1 or 2 container may not use them")
    func exponentWindowNeedVersion3() throws {
        let (container, plain) = try Self.fixture()
        #expect(container[8] == 3 && container[9] == 0)
        let intact = try CompressFixtures.open(container)
        #expect(intact.formatVersion == 3)
        let windowed = Set(intact.compressedTensors.filter { $0.grouping == .exponentWindow }.map(\.name))
        #expect(windowed.contains("weights.f32") && windowed.contains("weights.bf16"))
        let layout = CompressLayout(container)
        for older: UInt8 in [1, 2] {
            // Version 2's index is version 3's; version 1's lacks the source format's 8 bytes.
            var downgraded = older == 1 ? CompressLayout.replacingIndex(of: container, with: Array(layout.index.dropFirst(8))) : container
            downgraded[8] = older
            let error = #expect(throws: WeightsError.self, "version \(older)") { try CompressFixtures.open(downgraded) }
            #expect(error?.code == .corruptData && windowed.contains(error?.tensor ?? ""), "\(String(describing: error))")
            #expect(error?.reason.contains("version \(older)") == true, "\(String(describing: error))")
        }
        #expect(Self.readAll(container, plain: plain, context: "intact") == nil)

        // Without a BF16 or F32 tensor, a safetensors source is still written as version 1.
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tensors = try CompressFixtures.everyDType().filter { $0.dtype != .bf16 && $0.dtype != .f32 && $0.dtype != .c64 }
        try SafetensorsWriter.write(tensors, metadata: [:], to: directory + "/old.safetensors")
        try CompressedWriter.compress(file: directory + "/old.safetensors", to: directory + "/old.wzst")
        let old = try CompressFixtures.read(directory + "/old.wzst")
        #expect(old[8] == 1 && old[9] == 0)
        let reopened = try CompressFixtures.open(old)
        #expect(reopened.formatVersion == 1)
        #expect(reopened.compressedInfo(named: "weights.f16")?.grouping == .exponentPlanes)
        try reopened.verify()
    }

    @Test("a frame that claims more than zstd can expand is refused before anything is allocated")
    func decompressionBomb() throws {
        // A 64 MiB F32 tensor in one 64 MiB chunk whose four 16 MiB planes come from 4-byte frames.
        let json = Array(#"{"bomb":{"dtype":"F32","shape":[16777216],"data_offsets":[0,67108864]}}"#.utf8)
        var index = ByteWriterForTests()
        index.append(UInt64(json.count))
        index.bytes += json
        index.append(UInt32(64 << 20))
        index.append(UInt32(1))
        index.bytes += [ByteGrouping.exponentPlanes.rawValue, 4, 0, 0]
        index.append(UInt32(1))
        index.bytes += [UInt8](repeating: 0, count: 32)
        for _ in 0..<4 { index.append(UInt32(4)) }
        let prologue: [UInt8] = CompressedFormat.magic + [1, 0, 0, 0, 0, 0, 0, 0]
        let frames = [UInt8](repeating: 0x28, count: 16)
        let bytes = CompressLayout.assemble(prologue + frames, index: index.bytes)
        let error = #expect(throws: WeightsError.self) { try CompressFixtures.open(bytes) }
        #expect(error?.code == .corruptData && error?.tensor == "bomb" && error?.offset == 16)
        // The same container with honest frame sizes for its planes opens (and fails on read).
        var honest = ByteWriterForTests()
        honest.bytes = Array(index.bytes.dropLast(16))
        for _ in 0..<4 { honest.append(UInt32(512)) }
        let opened = try CompressFixtures.open(CompressLayout.assemble(prologue + [UInt8](repeating: 0, count: 2048), index: honest.bytes))
        let read = #expect(throws: WeightsError.self) { try opened.tensor(named: "bomb") }
        #expect(read?.code == .corruptData && read?.tensor == "bomb")
    }

    @Test("a wrong tensor digest is caught by verify and decompress, and leaves no output")
    func digestMismatch() throws {
        let (container, _) = try Self.fixture()
        let layout = CompressLayout(container)
        let intact = try CompressFixtures.open(container)
        let position = try #require(intact.compressedTensors.firstIndex { $0.name == "weights.bf16" })
        var index = layout.index
        index[layout.recordOffset(position) + 8] ^= 1
        let bytes = CompressLayout.replacingIndex(of: container, with: index)
        let file = try CompressFixtures.open(bytes)
        let verify = #expect(throws: WeightsError.self) { try file.verify() }
        #expect(verify?.code == .corruptData && verify?.tensor == "weights.bf16")
        // A plain read checks chunk checksums only, which still pass.
        #expect(try file.tensor(named: "weights.bf16").byteCount == 10002)

        let directory = try CompressFixtures.directory()

        defer { try? FileManager.default.removeItem(atPath: directory) }
        let restore = #expect(throws: WeightsError.self) { try file.decompress(to: directory + "/out.safetensors") }
        #expect(restore?.code == .corruptData && restore?.tensor == "weights.bf16" && restore?.file == "<memory>")
        #expect(!FileManager.default.fileExists(atPath: directory + "/out.safetensors"))
        try file.decompress(to: directory + "/out.safetensors", verifyDigests: false)
        #expect(FileManager.default.fileExists(atPath: directory + "/out.safetensors"))
    }

    @Test("a plain safetensors file is not a container")
    func notAContainer() throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try CompressFixtures.everyDTypeFile(in: directory)
        let error = #expect(throws: WeightsError.self) { try CompressedFile(path: input) }
        #expect(error?.code == .unsupportedFormat && error?.file == input)
        let missing = #expect(throws: WeightsError.self) { try CompressedFile(path: directory + "/none.wzst") }
        #expect(missing?.code == .io)
    }
}


struct ByteWriterForTests {
    var bytes: [UInt8] = []
    mutating func append<T: FixedWidthInteger>(_ value: T) {
        unsafe withUnsafeBytes(of: value.littleEndian) { unsafe bytes += $0 }
    }
}
