import Foundation
import Testing
import Weights

/// GGUF files in the compressed container (format versions 2 and 3): byte-for-byte round trips,
/// random access per tensor, and damage reported, never returned as data.
@Suite("Compressed container: GGUF sources")
struct CompressGGUFTests {
    static let fixtures = ["metadata.gguf", "blocks-a32.gguf", "blocks-a64.gguf", "blocks-expected.gguf", "gemma-samples.gguf"]

    /// The fixture's bytes and its container's, compressed with small chunks so that tensors
    /// span several of them.
    static func compressed(_ name: String, chunkSize: Int = 4096) throws -> (original: [UInt8], container: [UInt8]) {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = packagePath("Fixtures/gguf/" + name)
        try CompressedWriter.compress(file: input, to: directory + "/c.wzst",
                                      options: CompressionOptions(level: 3, chunkSize: chunkSize, threads: 2))
        return (try CompressFixtures.read(input), try CompressFixtures.read(directory + "/c.wzst"))
    }

    @Test("every fixture decompresses to itself, byte for byte", arguments: fixtures)
    func roundTrip(name: String) throws {
        let (original, container) = try Self.compressed(name)
        // Version 3 where a BF16 or F32 tensor takes an exponent window, else 2 (a GGUF source).
        let windowed = try GGUFFile(bytes: original).tensors.contains { $0.type == .f32 || $0.type == .bf16 }
        #expect(container[8] == (windowed ? 3 : 2) && container[9] == 0, "\(name)")
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try CompressFixtures.write(container, to: directory + "/c.wzst")
        for threads in [1, 2] {
            let file = try CompressedFile(path: directory + "/c.wzst", threads: threads)
            #expect(file.sourceFormat == .gguf)
            #expect(file.originalSize == original.count)
            try file.decompress(to: directory + "/out.gguf")
            #expect(try CompressFixtures.read(directory + "/out.gguf") == original)
            try file.verify()
        }
    }

    @Test("each tensor reads on its own: the file's bytes for it, its type as dtype or U8", arguments: fixtures)
    func randomAccess(name: String) throws {
        let (original, container) = try Self.compressed(name)
        let gguf = try GGUFFile(bytes: original)
        let file = try CompressFixtures.open(container)
        #expect(file.tensors.count == gguf.tensors.count)
        for info in gguf.tensors {
            let tensor = try file.tensor(named: info.name)
            #expect(tensor.copyBytes() == gguf.tensor(info).copyBytes(), "\(name): \(info.name)")
            #expect(tensor.dtype == (info.type.dtype ?? .u8))
            #expect(tensor.info.byteCount == info.byteCount)
        }
    }

    @Test("block-format tensors are split into their fields; plain ones are byte-grouped; each chunk size restores them",
          arguments: [4096, 8192 + 8, 1 << 20])
    func blockFields(chunkSize: Int) throws {
        let (original, container) = try Self.compressed("blocks-a32.gguf", chunkSize: chunkSize)
        let gguf = try GGUFFile(bytes: original)
        let file = try CompressFixtures.open(container)
        let split: Set<GGMLType> = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]
        var seen = 0
        for info in gguf.tensors {
            let stored = try #require(file.compressedInfo(named: info.name))
            if split.contains(info.type) {
                #expect(stored.grouping == .blockFields, "\(info.name) \(info.type)")
                seen += 1
            } else if info.type == .f32 || info.type == .f16 || info.type == .bf16 {
                let expected: ByteGrouping = info.type == .f16 ? .exponentPlanes : .exponentWindow
                #expect(stored.grouping == expected || stored.grouping == .none, "\(info.name) \(info.type)")
            }
            #expect(try file.tensor(named: info.name).copyBytes() == gguf.tensor(info).copyBytes())
        }
        #expect(seen > 0)
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try file.decompress(to: directory + "/out.gguf")
        #expect(try CompressFixtures.read(directory + "/out.gguf") == original)
    }

    @Test("the header and metadata are kept exactly: a container of a container's fixture reads as GGUF")
    func prefixKept() throws {
        let (original, container) = try Self.compressed("metadata.gguf")
        let gguf = try GGUFFile(bytes: original)
        let file = try CompressFixtures.open(container)
        #expect(file.headerLength == gguf.dataOffset + (gguf.tensors.map(\.offset).min() ?? (original.count - gguf.dataOffset)))
        #expect(file.metadata?["general.alignment"] == gguf.metadata["general.alignment"]?.description)
    }

    @Test("a flipped byte in a frame fails that tensor's read and the decompression, naming it")
    func damagedFrame() throws {
        let (original, container) = try Self.compressed("blocks-a32.gguf")
        let intact = try CompressFixtures.open(container)
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var start = 16
        for entry in intact.compressedTensors {
            defer { start += entry.compressedSize }
            guard entry.compressedSize > 0 else { continue }
            var damaged = container
            damaged[start + entry.compressedSize / 2] ^= 0x10
            let file = try CompressFixtures.open(damaged)
            #expect(throws: WeightsError.self) { _ = try file.tensor(named: entry.name) }
            do {
                _ = try file.tensor(named: entry.name)
            } catch let error as WeightsError {
                #expect(error.code == .corruptData)
                #expect(error.tensor == entry.name)
            }
            for other in intact.compressedTensors where other.name != entry.name {
                #expect(try file.tensor(named: other.name).copyBytes() == intact.tensor(named: other.name).copyBytes())
            }
            let output = directory + "/out.gguf"
            #expect(throws: WeightsError.self) { try file.decompress(to: output) }
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        _ = original
    }

    @Test("a damaged index or prefix frame is refused at open")
    func damagedIndex() throws {
        let (_, container) = try Self.compressed("metadata.gguf")
        let layout = CompressLayout(container)
        // Rewrite the index with its prefix frame damaged and the trailer's digest matching,
        // so that the frame's own checks must catch it.
        var index = layout.index
        index[8 + 16 + 10] ^= 0x01
        let rewritten = CompressLayout.replacingIndex(of: container, with: index)
        #expect { try CompressFixtures.open(rewritten) } throws: { ($0 as? WeightsError)?.code == .corruptData }
        // An unknown source format.
        var unknown = layout.index
        unknown[0] = 9
        #expect { try CompressFixtures.open(CompressLayout.replacingIndex(of: container, with: unknown)) } throws: {
            ($0 as? WeightsError)?.code == .unsupportedFormat
        }
        // A damaged index under the trailer's digest.
        var flipped = container
        flipped[layout.indexRange.lowerBound + 3] ^= 0x01
        #expect { try CompressFixtures.open(flipped) } throws: { ($0 as? WeightsError)?.code == .corruptData }
    }

    @Test("a container cut anywhere is refused as truncated")
    func truncation() throws {
        let (_, container) = try Self.compressed("gemma-samples.gguf")
        for length in Swift.stride(from: 0, to: container.count, by: max(1, container.count / 97)) {
            #expect(throws: WeightsError.self, "cut at \(length)") { try CompressFixtures.open(Array(container.prefix(length))) }
        }
    }
}
