import Foundation
import Testing
import Weights

/// Reads that go through a temporary mapping must keep it mapped until they are done: a
/// `ByteStorage` whose last use is `.bytes` may be released (and unmapped) before the bytes
/// are read. AddressSanitizer caught `Manifest.make` reading an index through a freed mapping.
@Suite struct MappingLifetimeTests {
    @Test func manifestOfAnIndexListsTheIndexAndEveryShard() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tensors = try (0..<4).map { try Tensor(name: "t\($0)", shape: [64], elements: [Float](repeating: Float($0), count: 64)) }
        let source = try SafetensorsFile(bytes: SafetensorsWriter.serialize(tensors, metadata: nil))
        let index = try ShardedWriter.write(source, to: directory, maximumShardSize: 600)
        let indexBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: index)))
        let shards = unsafe try indexBytes.withUnsafeBytes { unsafe try ShardIndex.decode($0) }.shardFiles
        #expect(shards.count > 1)
        let manifest = try Manifest.make(for: [index])
        #expect(manifest.entries.map(\.path) == [index] + shards.map { directory + "/" + $0 })
        for entry in manifest.entries {
            #expect(entry.sha256 == SHA256Digest.hex(of: Array(try Data(contentsOf: URL(fileURLWithPath: entry.path)))))
        }
    }

    @Test func fileDigestMatchesTheDigestOfTheBytes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/f"))
        #expect(try SHA256Digest.file(at: directory + "/f") == SHA256Digest.hex(of: bytes))
    }
}
