import Foundation
import Testing
import Weights

/// Checks against files written by the reference implementation (Fixtures/safetensors, made by
/// its generate.py with safetensors 0.8.0).
@Suite struct ReferenceFixtureTests {
    struct ValidEntry: Decodable {
        struct TensorEntry: Decodable {
            var name: String
            var dtype: String
            var shape: [UInt64]
            var data_offsets: [Int]
            var data_hex: String
        }
        var file: String
        var made_by: String
        var canonical_layout: Bool?
        var sha256: String
        var header_length: Int
        var metadata: [String: String]?
        var tensors: [TensorEntry]
        var data_order: [String]
    }

    struct MalformedEntry: Decodable {
        var file: String
        var rule: String
        var tensor: String?
        var reference_accepts: Bool
        var description: String
    }

    static let directory = packageRoot.appendingPathComponent("Fixtures/safetensors")

    static func load<T: Decodable>(_ name: String) throws -> [T] {
        try JSONDecoder().decode([T].self, from: Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static let valid: [ValidEntry] = (try? load("valid/manifest.json")) ?? []
    static let malformed: [MalformedEntry] = (try? load("malformed/manifest.json")) ?? []

    /// Shapes with a dimension above Int.max: only zero-size tensors can have them, and the
    /// reader refuses them on purpose (Spec/safetensors.md, "Stricter than the reference").
    static func hasHugeDimension(_ entry: ValidEntry) -> Bool {
        entry.tensors.contains { $0.shape.contains { $0 > UInt64(Int.max) } }
    }

    @Test func manifestsAreThere() {
        #expect(Self.valid.count >= 40)
        #expect(Self.malformed.count >= 60)
    }

    @Test(arguments: valid)
    func readerAgreesWithTheManifest(entry: ValidEntry) throws {
        let path = Self.directory.appendingPathComponent("valid/\(entry.file)").path
        if Self.hasHugeDimension(entry) {
            let error = #expect(throws: WeightsError.self) { try SafetensorsFile(path: path) }
            #expect(error?.code == .validationOverflow)
            return
        }
        let file = try SafetensorsFile(path: path)
        #expect(file.headerLength == entry.header_length)
        #expect(file.metadata == entry.metadata)
        #expect(file.tensors.map(\.name) == entry.data_order)
        for expected in entry.tensors {
            let tensor = try file.tensor(named: expected.name)
            #expect(tensor.dtype.rawValue == expected.dtype)
            #expect(tensor.shape.map(UInt64.init) == expected.shape)
            #expect([tensor.info.dataOffsets.lowerBound, tensor.info.dataOffsets.upperBound] == expected.data_offsets)
            #expect(hex(tensor.copyBytes()) == expected.data_hex, "\(entry.file): \(expected.name)")
        }
        #expect(try SHA256Digest.file(at: path) == entry.sha256)
    }

    /// The writer's output equals the reference writer's, byte for byte, for every file laid
    /// out canonically with at most one metadata key.
    @Test(arguments: valid.filter { ($0.made_by == "reference" || $0.canonical_layout == true) && ($0.metadata?.count ?? 0) <= 1 })
    func writerReproducesTheReferenceBytes(entry: ValidEntry) throws {
        let path = Self.directory.appendingPathComponent("valid/\(entry.file)").path
        let expected = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        if Self.hasHugeDimension(entry) { return }
        let tensors = try entry.tensors.map {
            try Tensor(name: $0.name, dtype: #require(DType(rawValue: $0.dtype)), shape: $0.shape.map { Int($0) },
                       bytes: unhex($0.data_hex))
        }
        let written = try SafetensorsWriter.serialize(tensors, metadata: entry.metadata)
        #expect(written == expected, "\(entry.file)")
        // The streaming writer, to a file, gives the same bytes.
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try SafetensorsWriter.write(tensors, metadata: entry.metadata, to: directory + "/out.safetensors")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/out.safetensors"))) == expected)
    }

    @Test(arguments: malformed)
    func readerRefusesMalformedFiles(entry: MalformedEntry) throws {
        let path = Self.directory.appendingPathComponent("malformed/\(entry.file)").path
        let error = #expect(throws: WeightsError.self, "\(entry.file): \(entry.description)") {
            try SafetensorsFile(path: path)
        }
        #expect(error?.code.rawValue == entry.rule, "\(entry.file): \(entry.description): \(String(describing: error))")
        #expect(error?.file == path)
        if let tensor = entry.tensor {
            #expect(error?.tensor == tensor, "\(entry.file)")
        }
    }
}

extension ReferenceFixtureTests.ValidEntry: CustomTestStringConvertible {
    var testDescription: String { file }
}

extension ReferenceFixtureTests.MalformedEntry: CustomTestStringConvertible {
    var testDescription: String { file }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

func unhex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}
