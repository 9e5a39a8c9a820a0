import Foundation
import Testing
import Weights

/// Random sets of tensors survive write then read, with every dtype, empty and scalar shapes,
/// and awkward names.
@Suite struct RoundTripTests {
    static let nameParts = ["w", "bias", "layer.0", "layer.10", "é", "e\u{301}", "日本", "\u{1F600}", "q\"", "a\\b", "tab\t", "Z", "/"]

    static func randomTensors(seed: UInt64) throws -> ([Tensor], [String: String]?) {
        var random = SeededGenerator(state: seed)
        var names = Set<[UInt8]>()
        var tensors: [Tensor] = []
        for _ in 0..<Int.random(in: 0...12, using: &random) {
            let name = (0..<Int.random(in: 1...3, using: &random)).map { _ in nameParts.randomElement(using: &random)! }.joined(separator: ".")
            guard names.insert(Array(name.utf8)).inserted else { continue }
            let dtype = DType.allCases.randomElement(using: &random)!
            // Up to 6 dimensions from few sizes: shapes repeat, and some need more than the 4 the reader keeps inline.
            var shape = (0..<Int.random(in: 0...6, using: &random)).map { _ in Int.random(in: 0...3, using: &random) }
            let perByte = 8 / (dtype.bitWidth % 8 == 0 ? 8 : dtype.bitWidth == 4 ? 4 : 2)
            if dtype.byteWidth == nil { shape.append(perByte * Int.random(in: 0...3, using: &random)) }
            let size = try TensorDescriptor(name: name, dtype: dtype, shape: shape).byteCount()
            let bytes = (0..<size).map { _ in dtype == .bool ? UInt8.random(in: 0...1, using: &random) : UInt8.random(in: 0...255, using: &random) }
            tensors.append(try Tensor(name: name, dtype: dtype, shape: shape, bytes: bytes))
        }
        let metadata: [String: String]? = Bool.random(using: &random) ? nil : ["format": "pt", "note": "seed \(seed)"]
        return (tensors, metadata)
    }

    @Test(arguments: 0..<200)
    func writeThenRead(seed: Int) throws {
        let (tensors, metadata) = try Self.randomTensors(seed: UInt64(seed))
        let bytes = try SafetensorsWriter.serialize(tensors, metadata: metadata)
        #expect(bytes.count % 8 == 0 || !tensors.isEmpty)
        let file = try SafetensorsFile(bytes: bytes)
        #expect(file.metadata == metadata)
        #expect(file.tensors.count == tensors.count)
        for tensor in tensors {
            let read = try file.tensor(named: tensor.name)
            #expect(read.dtype == tensor.dtype && read.shape == tensor.shape)
            #expect(read.copyBytes() == tensor.copyBytes())
            #expect(read.isAligned, "canonical layout aligns every tensor to its element size")
        }
        // Writing what was read gives the same bytes again.
        #expect(try SafetensorsWriter.serialize(file.tensors.map { file.tensor($0) }, metadata: file.metadata) == bytes)
    }
}
