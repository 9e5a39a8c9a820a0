import Testing
import Weights
import WeightsTestSupport

/// Digests of a GGUF file cover its stored bytes (Spec/digests.md, "GGUF files"): the blocks of
/// a quantized tensor, not the floats `GGUFTensorSource` decodes them to.
@Suite struct GGUFDigestTests {
    static func source(_ name: String) throws -> GGUFTensorSource {
        GGUFTensorSource(try GGUFFile(path: packagePath("Fixtures/gguf/" + name)))
    }

    @Test func tensorDigestsHashTheStoredBlocks() throws {
        let source = try Self.source("quants.gguf")
        let digests = try TensorDigests.compute(for: source)
        #expect(digests.count == source.file.tensors.count)
        var quantized = 0
        for (info, digest) in zip(source.file.tensors, digests) {
            #expect(digest.name == info.name)
            #expect(digest.sha256 == SHA256Digest.hex(of: source.file.tensor(info).copyBytes()), "\(info.name)")
            if info.type.dtype == nil {
                quantized += 1
                let decoded = try source.tensor(named: info.name)
                #expect(digest.sha256 != SHA256Digest.hex(of: decoded), "\(info.name) is hashed as stored, not decoded")
            }
        }
        #expect(quantized > 0, "the fixture has block-format tensors")
        #expect(source.storedTypeNames == source.file.tensors.map(\.type.name))
        #expect(source.storedTypeNames.contains("Q8_0"))
    }

    /// The dequantized copy holds other bytes, so it has another content digest; a GGUF of plain
    /// F32 tensors holds the same bytes as its safetensors copy, and has its content digest.
    @Test func contentDigestDiffersFromTheDequantizedCopyOnlyWhereBytesDo() throws {
        func copy(_ source: any TensorSource) throws -> SafetensorsFile {
            let tensors = try source.tensors.map { try source.tensor(named: $0.name) }
            return try SafetensorsFile(bytes: SafetensorsWriter.serialize(tensors, metadata: nil))
        }
        let quantized = try Self.source("quants.gguf")
        #expect(try ContentDigest.compute(for: quantized) != ContentDigest.compute(for: copy(quantized)))

        var builder = GGUFBuilder()
        builder.tensor("a", dimensions: [4, 2])
        builder.tensor("b", dimensions: [8], offset: 32)
        let plain = GGUFTensorSource(try GGUFFile(bytes: builder.bytes()))
        #expect(plain.storedTypeNames == ["F32", "F32"])
        let digest = try ContentDigest.compute(for: plain)
        #expect(digest == (try ContentDigest.compute(for: copy(plain))))
        #expect(ContentDigest.compute(plain, digests: try TensorDigests.compute(for: plain).map(\.sha256)) == digest)
    }

    @Test func aSplitSetHashesEachShardsStoredBytes() throws {
        let source = try #require(try Checkpoint.open(packagePath("Fixtures/gguf/split/model-00001-of-00003.gguf")) as? GGUFSplitSource)
        let digests = try TensorDigests.compute(for: source)
        var expected: [String] = []
        for shard in source.shards {
            for info in shard.file.tensors { expected.append(SHA256Digest.hex(of: shard.file.tensor(info).copyBytes())) }
        }
        #expect(digests.map(\.sha256) == expected)
        #expect(source.storedTypeNames.count == source.tensors.count)
    }
}
