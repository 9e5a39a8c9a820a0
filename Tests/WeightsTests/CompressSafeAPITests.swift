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
}
