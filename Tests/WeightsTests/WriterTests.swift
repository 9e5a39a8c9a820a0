import Foundation
import Testing
import Weights

@Suite struct WriterTests {
    /// The reference writer's output for `{"w": F16 [2,2] = 1,2,3,4}`, metadata `{"format":"pt"}`.
    @Test func goldenBytesOfTheReferenceWriter() throws {
        let tensor = try Tensor(name: "w", shape: [2, 2], elements: [1, 2, 3, 4] as [Float16])
        let bytes = try SafetensorsWriter.serialize([tensor], metadata: ["format": "pt"])
        let json = #"{"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}"#
        #expect(bytes == fileBytes(json: json + " ", data: [0x00, 0x3C, 0x00, 0x40, 0x00, 0x42, 0x00, 0x44]))
        #expect(bytes.prefix(8) == [88, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func emptyFileIsSixteenBytes() throws {
        #expect(try SafetensorsWriter.serialize([], metadata: nil) == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    }

    @Test func orderIsDTypeDescendingThenNameBytes() throws {
        let tensors = try [
            Tensor(name: "z", shape: [1], elements: [1] as [UInt8]),
            Tensor(name: "a", shape: [1], elements: [true]),
            Tensor(name: "\u{E9}", shape: [1], elements: [1] as [Float]),
            Tensor(name: "a.9", shape: [1], elements: [1] as [Float]),
            Tensor(name: "a.10", shape: [1], elements: [1] as [Float]),
            Tensor(name: "Z", shape: [1], elements: [1] as [Float]),
            Tensor(name: "b", shape: [1], elements: [1] as [Int64]),
        ]
        let layout = try SafetensorsLayout(tensors.map(\.descriptor), metadata: nil)
        #expect(layout.tensors.map(\.name) == ["b", "Z", "a.10", "a.9", "\u{E9}", "z", "a"])
        for tensor in layout.tensors {
            #expect(tensor.dataOffsets.lowerBound % tensor.dtype.byteWidth! == 0)
        }
    }

    @Test func metadataKeysAreSortedByBytes() throws {
        let bytes = try SafetensorsWriter.serialize([], metadata: ["b": "2", "a": "1", "\u{E9}": "3", "Z": "0"])
        let json = String(decoding: bytes.dropFirst(8), as: UTF8.self)
        #expect(json.hasPrefix(#"{"__metadata__":{"Z":"0","a":"1","b":"2","é":"3"}}"#))
        #expect(bytes.count % 8 == 0)
    }

    @Test func namesAreEscapedAsTheReferenceEscapesThem() throws {
        let name = "q\"b\\s\u{8}\u{C}\n\r\t\u{1}\u{1F}\u{7F}/\u{2028}\u{E9}"
        let bytes = try SafetensorsWriter.serialize([Tensor(name: name, shape: [], elements: [7] as [UInt8])], metadata: nil)
        let json = String(decoding: bytes.dropFirst(8), as: UTF8.self)
        #expect(json.hasPrefix(#"{"q\"b\\s\b\f\n\r\t\u0001\u001f"# + "\u{7F}/\u{2028}\u{E9}\""))
        #expect(try SafetensorsFile(bytes: bytes).tensors.first?.name == name)
    }

    @Test func badInputIsRefused() throws {
        #expect(errorCode { _ = try Tensor(name: "w", dtype: .f32, shape: [2], bytes: [0, 0, 0, 0]) } == .byteCountMismatch)
        #expect(errorCode { _ = try SafetensorsLayout([TensorDescriptor(name: "__metadata__", dtype: .u8, shape: [])], metadata: nil) }
                == .reservedTensorName)
        #expect(errorCode {
            _ = try SafetensorsLayout([TensorDescriptor(name: "a", dtype: .u8, shape: []), TensorDescriptor(name: "a", dtype: .f32, shape: [])], metadata: nil)
        } == .duplicateTensorName)
        #expect(errorCode { _ = try SafetensorsLayout([TensorDescriptor(name: "a", dtype: .u8, shape: [-1])], metadata: nil) } == .invalidArgument)
        #expect(errorCode { _ = try SafetensorsLayout([TensorDescriptor(name: "a", dtype: .f4, shape: [3])], metadata: nil) } == .misalignedSlice)
        #expect(errorCode { _ = try SafetensorsLayout([TensorDescriptor(name: "a", dtype: .f64, shape: [Int.max, 4])], metadata: nil) }
                == .validationOverflow)
        let huge = ["k": String(repeating: "x", count: 100_000_001)]
        #expect(errorCode { _ = try SafetensorsLayout([], metadata: huge) } == .headerTooLarge)
    }

    @Test func streamingWritesInChunksAndChecksEveryCount() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/out.safetensors"
        let descriptors = [TensorDescriptor(name: "a", dtype: .u8, shape: [6]), TensorDescriptor(name: "e", dtype: .f32, shape: [0]),
                           TensorDescriptor(name: "b", dtype: .u8, shape: [2])]
        let writer = try SafetensorsWriter(path: path, tensors: descriptors, metadata: nil)
        #expect(writer.nextTensor?.name == "a")
        unsafe try [UInt8]([1, 2, 3]).withUnsafeBytes { unsafe try writer.write($0) }
        #expect(errorCode { try writer.finish() } == .byteCountMismatch)
        #expect(!FileManager.default.fileExists(atPath: path), "nothing appears before finish succeeds")
        unsafe try [UInt8]([4, 5, 6]).withUnsafeBytes { unsafe try writer.write($0) }
        #expect(writer.nextTensor?.name == "b", "empty tensors need no bytes")
        #expect(errorCode { unsafe try [UInt8]([1, 2, 3]).withUnsafeBytes { unsafe try writer.write($0) } } == .byteCountMismatch)
        unsafe try [UInt8]([7, 8]).withUnsafeBytes { unsafe try writer.write($0) }
        #expect(writer.nextTensor == nil)
        try writer.finish()
        let file = try SafetensorsFile(path: path)
        #expect(try file.tensor(named: "a").copyBytes() == [1, 2, 3, 4, 5, 6])
        #expect(try file.tensor(named: "b").copyBytes() == [7, 8])
    }

    @Test func abandonedWritesLeaveNoFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let writer = try SafetensorsWriter(path: directory + "/x.safetensors",
                                               tensors: [TensorDescriptor(name: "a", dtype: .u8, shape: [4])], metadata: nil)
            unsafe try [UInt8]([1]).withUnsafeBytes { unsafe try writer.write($0) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "the temporary file is removed too")
    }

    @Test func writingReplacesAnExistingFileAtomically() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/x.safetensors"
        try SafetensorsWriter.write([Tensor(name: "old", shape: [1], elements: [1] as [UInt8])], metadata: nil, to: path)
        try SafetensorsWriter.write([Tensor(name: "new", shape: [1], elements: [2] as [UInt8])], metadata: nil, to: path)
        #expect(try SafetensorsFile(path: path).tensors.map(\.name) == ["new"])
        #expect(errorCode { try SafetensorsWriter.write([], metadata: nil, to: directory + "/missing/x.safetensors") } == .io)
    }

    @Test("A source writes itself: the same bytes as the writer driven by hand")
    func sourceWritesItself() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tensors = try [Tensor(name: "b", shape: [2], elements: [1, 2] as [Float]),
                           Tensor(name: "a", shape: [0], elements: [] as [Float16]),
                           Tensor(name: "c", shape: [3], elements: [7, 8, 9] as [Int32])]
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory + "/by-hand.safetensors")
        let source = try SafetensorsFile(path: directory + "/by-hand.safetensors")
        try source.write(to: directory + "/itself.safetensors")
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/itself.safetensors"))
                == Data(contentsOf: URL(fileURLWithPath: directory + "/by-hand.safetensors")))
        try source.write(to: directory + "/other.safetensors", metadata: ["k": "v"])
        #expect(try SafetensorsFile(path: directory + "/other.safetensors").metadata == ["k": "v"])
    }

    @Test("Replacing the metadata at finish needs a header of the same length")
    func replacingMetadata() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tensor = try Tensor(name: "w", shape: [2], elements: [1, 2] as [Float])
        let path = directory + "/w.safetensors"
        let writer = try SafetensorsWriter(path: path, tensors: [tensor.descriptor], metadata: ["k": "aaaa"])
        try writer.write(tensor)
        try writer.finish(replacingMetadata: ["k": "bbbb"])
        #expect(try SafetensorsFile(path: path).metadata == ["k": "bbbb"])
        #expect(try SafetensorsFile(path: path).tensor(named: "w").floats() == [1, 2])

        let longer = try SafetensorsWriter(path: path, tensors: [tensor.descriptor], metadata: ["k": "aaaa"])
        try longer.write(tensor)
        let error = #expect(throws: WeightsError.self) { try longer.finish(replacingMetadata: ["k": "a much longer value"]) }
        #expect(error?.code == .invalidArgument && error?.file == path)
        #expect(try SafetensorsFile(path: path).metadata == ["k": "bbbb"], "the old file stays")
    }

    @Test("Errors say whose fault they are: the input's, the caller's or the system's")
    func faults() throws {
        let broken = readError(fileBytes(json: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)))
        #expect(broken?.fault == .input)
        let misuse = #expect(throws: WeightsError.self) { try Tensor(name: "t", shape: [2], elements: [1] as [Float]) }
        #expect(misuse?.fault == .caller)
        let missing = #expect(throws: WeightsError.self) { try SafetensorsFile(path: "/nonexistent/x.safetensors") }
        #expect(missing?.code == .io && missing?.fault == .system)
        let manifest = #expect(throws: WeightsError.self) { try Manifest.parse("not a manifest line\n", file: "m") }
        #expect(manifest?.code == .invalidData && manifest?.fault == .input)
    }

    @Test("A source that streams the wrong number of bytes is refused, naming the tensor")
    func shortStreamIsRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = ShortSource(path: directory + "/in")
        let error = #expect(throws: WeightsError.self) { try source.write(to: directory + "/out.safetensors") }
        #expect(error?.code == .byteCountMismatch && error?.tensor == "w")
        #expect(!FileManager.default.fileExists(atPath: directory + "/out.safetensors"))
    }
}

/// A source whose one tensor, 8 bytes long, streams only 4.
private final class ShortSource: TensorSource, @unchecked Sendable {
    let path: String
    let metadata: [String: String]? = nil
    let tensors = [TensorInfo(name: "w", dtype: .f32, shape: [2], dataOffsets: 0..<8)]

    init(path: String) { self.path = path }

    func tensor(named name: String) throws -> Tensor {
        try Tensor(name: "w", shape: [2], elements: [1, 2] as [Float])
    }

    func streamBytes(ofTensorNamed name: String, into body: (UnsafeRawBufferPointer) throws -> Void) throws {
        unsafe try [UInt8](repeating: 0, count: 4).withUnsafeBytes { unsafe try body($0) }
    }
}
