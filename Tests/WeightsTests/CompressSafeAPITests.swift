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

    /// `TensorConverter.convertedTensor` copied whatever the source's tensor held into a
    /// buffer sized by its header entry: a source whose tensor is larger wrote past the buffer.
    @Test(arguments: [1024, 1])
    func aSourceWhoseTensorIsNotItsEntrysSizeIsAnError(elements: Int) throws {
        let converter = try TensorConverter(source: MismatchedSource(elements: elements), target: .float(.f32))
        let error = #expect(throws: WeightsError.self) { _ = try converter.tensor(named: "w") }
        #expect(error?.code == .byteCountMismatch && error?.tensor == "w")
    }

    /// Dequantizing an INT8 pair indexed the scales by the values' rows, as the source's header
    /// entries promised, not as its tensors were: fewer scales read past them.
    @Test func aQuantizedPairWhoseScalesAreShortIsAnError() throws {
        let converter = try TensorConverter(source: ShortScalesSource(), target: .float(.f32))
        let error = #expect(throws: WeightsError.self) { _ = try converter.tensor(named: "w") }
        #expect(error?.code == .invalidData && error?.tensor == "w_scale")
    }
}

/// A source whose one tensor, declared F32 `[2]`, holds `elements` floats.
private final class MismatchedSource: TensorSource, @unchecked Sendable {
    let path = "<mismatched>"
    let metadata: [String: String]? = nil
    let tensors = [TensorInfo(name: "w", dtype: .f32, shape: [2], dataOffsets: 0..<8)]
    let elements: Int

    init(elements: Int) { self.elements = elements }

    func tensor(named name: String) throws -> Tensor {
        try Tensor(name: "w", shape: [elements], elements: [Float](repeating: 1, count: elements))
    }
}

/// An INT8-quantized source whose header entries form a pair of 4 rows, but whose scale
/// tensor holds one scale.
private final class ShortScalesSource: TensorSource, @unchecked Sendable {
    let path = "<short scales>"
    let metadata: [String: String]? = [Int8Quantization.metadataKey: Int8Quantization.scheme]
    let tensors = [TensorInfo(name: "w", dtype: .i8, shape: [4, 2], dataOffsets: 0..<8),
                   TensorInfo(name: "w_scale", dtype: .f32, shape: [4, 1], dataOffsets: 8..<24)]

    func tensor(named name: String) throws -> Tensor {
        name == "w" ? try Tensor(name: "w", shape: [4, 2], elements: [Int8](repeating: 1, count: 8))
            : try Tensor(name: "w_scale", shape: [1, 1], elements: [Float(0.5)])
    }
}
