import Foundation
import Testing
import Weights

/// Unsound sites found reviewing the `unsafe` code of the container, the converter and the
/// storage (issue #12), each with the input that reached it: an entry that reads past its
/// tensor now traps, and input data or a source that disagrees with itself is an error.
@Suite("Compressed container and conversion: safe APIs stay in bounds")
struct CompressSafeAPITests {
    /// A container of one 4-float tensor, in memory.
    static func container() throws -> CompressedFile {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tensor = try Tensor(name: "w", shape: [4], elements: [1, 2, 3, 4] as [Float])
        try SafetensorsWriter.write([tensor], metadata: nil, to: directory + "/in.safetensors")
        try CompressedWriter.compress(file: directory + "/in.safetensors", to: directory + "/c.wzst")
        return try CompressFixtures.open(try CompressFixtures.read(directory + "/c.wzst"))
    }

    @Test func anEntryOfTheContainerReads() throws {
        let file = try Self.container()
        #expect(try file.tensor(file.compressedTensors[0], verifyDigest: true).floats() == [1, 2, 3, 4])
    }

    /// `CompressedTensorInfo`'s fields are public and mutable: an entry whose shape and
    /// offsets are larger than the tensor stored used to make a `Tensor` over bytes past the
    /// allocation (the chunks decoded are the stored size; the tensor's view was the entry's).
    @Test func anEntryChangedByTheCallerTraps() async {
        await #expect(processExitsWith: SafeAPIPreconditionTests.trap) {
            let file = try Self.container()
            var entry = file.compressedTensors[0]
            entry.info.shape = [1 << 20]
            entry.info.dataOffsets = 0..<(4 << 20)
            _ = try file.tensor(entry).floats()
        }
    }

    /// A GGUF file with no tensors whose header is not padded to its alignment: its data
    /// section's offset lies past its end. The writer took everything up to that offset as
    /// the file's prefix, reading past the mapping (1 MiB past, at this alignment), and the
    /// container it wrote could not be read back.
    @Test func aGGUFFileWithoutTensorsOrPaddingRoundTrips() throws {
        var builder = GGUFBuilder()
        builder.add("general.alignment", uint32: 1 << 20)
        builder.add("general.name", string: "no tensors")
        let original = builder.headerBytes()
        #expect(try GGUFFile(bytes: original).dataOffset > original.count)
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try CompressFixtures.write(original, to: directory + "/in.gguf")
        try CompressedWriter.compress(file: directory + "/in.gguf", to: directory + "/c.wzst")
        let file = try CompressedFile(path: directory + "/c.wzst")
        #expect(file.sourceFormat == .gguf)
        #expect(file.originalSize == original.count && file.headerLength == original.count)
        #expect(file.tensors.isEmpty)
        try file.decompress(to: directory + "/out.gguf")
        #expect(try CompressFixtures.read(directory + "/out.gguf") == original)
    }
}
