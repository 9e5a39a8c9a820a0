import Foundation
import Testing
import Weights

@Suite struct DigestTests {
    struct KnownAnswer: Decodable, CustomTestStringConvertible {
        var file: String
        var sha256: String
        var content_digest: String
        /// [name, sha256] pairs: a list, since Swift dictionaries merge canonically equivalent names.
        var tensors: [[String]]
        var testDescription: String { file }
    }

    /// Computed by Fixtures/digests/make_digests.py with Python's hashlib.
    static let knownAnswers: [KnownAnswer] = (try? JSONDecoder().decode(
        [KnownAnswer].self, from: Data(contentsOf: packageRoot.appendingPathComponent("Fixtures/digests/digests.json")))) ?? []

    static func path(_ file: String) -> String {
        packageRoot.appendingPathComponent("Fixtures/safetensors/valid/\(file)").path
    }

    @Test func sha256KnownAnswers() {
        #expect(SHA256Digest.hex(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Digest.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256Digest.hex(of: million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test(arguments: knownAnswers)
    func digestsMatchAnIndependentImplementation(answer: KnownAnswer) throws {
        #expect(Self.knownAnswers.count >= 5)
        let source = try Checkpoint.open(Self.path(answer.file))
        #expect(try SHA256Digest.file(at: Self.path(answer.file)) == answer.sha256)
        let digests = try TensorDigests.compute(for: source)
        #expect(digests.map(\.name) == source.tensors.map(\.name))
        let byBytes = { (pairs: [[String]]) in pairs.sorted { $0[0].utf8.lexicographicallyPrecedes($1[0].utf8) }.map { Array($0[0].utf8) + [0] + Array($0[1].utf8) } }
        #expect(byBytes(digests.map { [$0.name, $0.sha256] }) == byBytes(answer.tensors))
        #expect(try ContentDigest.compute(for: source) == answer.content_digest)
        #expect(try TensorDigests.compute(for: source, threads: 1).map(\.sha256) == digests.map(\.sha256))
    }

    @Test func contentDigestIgnoresLayoutButNotContent() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let original = try Checkpoint.open(Self.path("model_bert_tiny.safetensors"))
        let digest = try ContentDigest.compute(for: original)
        try ShardedWriter.write(original, to: directory + "/sharded", maximumShardSize: 600, metadata: ["other": "metadata"])
        #expect(try ContentDigest.compute(for: Checkpoint.open(directory + "/sharded")) == digest)
        #expect(try ContentDigest.compute(for: Checkpoint.open(Self.path("hand_noncanonical_order.safetensors")))
                == ContentDigest.compute(for: Checkpoint.open(Self.path("hand_noncanonical_order.safetensors"))))

        let base = try (0..<3).map { try Tensor(name: "t\($0)", shape: [2], elements: [Float($0), 1]) }
        let reference = ContentDigest.compute(base.map(\.info), digests: base.map { SHA256Digest.hex(of: $0) })
        func contentDigest(_ tensors: [Tensor]) -> String {
            ContentDigest.compute(tensors.map(\.info), digests: tensors.map { SHA256Digest.hex(of: $0) })
        }
        #expect(contentDigest(base.reversed()) == reference, "order does not matter")
        var renamed = base
        renamed[0] = try Tensor(name: "t9", shape: [2], elements: [0, 1] as [Float])
        #expect(contentDigest(renamed) != reference, "names matter")
        var reshaped = base
        reshaped[0] = try Tensor(name: "t0", shape: [1, 2], elements: [0, 1] as [Float])
        #expect(contentDigest(reshaped) != reference, "shapes matter")
        var retyped = base
        retyped[0] = try Tensor(name: "t0", dtype: .i32, shape: [2], bytes: base[0].copyBytes())
        #expect(contentDigest(retyped) != reference, "dtypes matter")
        var changed = base
        changed[0] = try Tensor(name: "t0", shape: [2], elements: [0, 1.0000001] as [Float])
        #expect(contentDigest(changed) != reference, "bytes matter")
        // A name holding a tab and newline can't forge another listing.
        let tricky = try Tensor(name: "a\tF32\t[2]\tx\n", shape: [2], elements: [0, 1] as [Float])
        #expect(String(decoding: ContentDigest.listing([(tricky.info, "x")]), as: UTF8.self)
                == "weights-content-digest-v1\n\"a\\tF32\\t[2]\\tx\\n\"\tF32\t[2]\tx\n")
    }

    @Test func embeddedDigestsAreCheckedTensorByTensor() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tensors = try [Tensor(name: "a", shape: [2], elements: [1, 2] as [Float]), Tensor(name: "b", shape: [1], elements: [3] as [Int64])]
        let metadata = EmbeddedDigests.adding(to: ["format": "pt"], tensors: tensors.map(\.info), digests: tensors.map { SHA256Digest.hex(of: $0) })
        let path = directory + "/x.safetensors"
        try SafetensorsWriter.write(tensors, metadata: metadata, to: path)
        let findings = try Verification.verify(path, expectations: .init())
        #expect(findings.count == 3 && findings.allSatisfy(\.passed), "\(findings)")

        var forged = metadata
        forged[EmbeddedDigests.tensorPrefix + "a"] = String(repeating: "0", count: 64)
        forged[EmbeddedDigests.tensorPrefix + "ghost"] = String(repeating: "0", count: 64)
        try SafetensorsWriter.write(tensors, metadata: forged, to: path)
        let failed = try Verification.verify(path, expectations: .init()).filter { !$0.passed }
        #expect(Set(failed.map(\.subject)) == ["tensor 'a'", "tensor 'ghost'"])
    }

    @Test("EmbeddedDigests.write gives the bytes of writing the file, hashing it, and writing it again")
    func embeddingInOnePassMatchesTwoPasses() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["model_bert_tiny.safetensors", "all_dtypes_except_f6.safetensors", "hand_noncanonical_order.safetensors"] {
            let source = try SafetensorsFile(path: Self.path(name))
            let onePass = directory + "/one-\(name)"
            try EmbeddedDigests.write(source, to: onePass)
            let digests = try TensorDigests.compute(for: source).map(\.sha256)
            let metadata = EmbeddedDigests.adding(to: source.metadata, tensors: source.tensors, digests: digests)
            let twoPass = directory + "/two-\(name)"
            try source.write(to: twoPass, metadata: metadata)
            #expect(try SHA256Digest.file(at: onePass) == SHA256Digest.file(at: twoPass), "\(name)")
            #expect(try Verification.verify(onePass, expectations: .init()).allSatisfy(\.passed))
        }
        // Through a conversion, streamed chunk by chunk.
        let converted = try TensorConverter(source: SafetensorsFile(path: Self.path("model_bert_tiny.safetensors")),
                                            target: .float(.bf16)).convertedSource()
        try EmbeddedDigests.write(converted, to: directory + "/bf16.safetensors")
        let written = try SafetensorsFile(path: directory + "/bf16.safetensors")
        #expect(written.tensors.allSatisfy { $0.dtype != .f32 })
        #expect(try Verification.verify(directory + "/bf16.safetensors", expectations: .init()).allSatisfy(\.passed))
    }

    @Test("Digests asked of the source and the tensor agree with the enums that compute them")
    func nounsAnswerForThemselves() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try Checkpoint.open(Self.path("model_bert_tiny.safetensors"))
        let digest = try source.contentDigest()
        #expect(digest == (try ContentDigest.compute(for: source)))
        let index = try source.writeShards(to: directory + "/s", maximumShardSize: 600)
        #expect(try Checkpoint.open(index).contentDigest() == digest)
        let half = try source.converted(to: .float(.f16))
        try half.write(to: directory + "/half.safetensors")
        #expect(try Checkpoint.open(directory + "/half.safetensors").contentDigest() == half.contentDigest())
        #expect(try source.tensorDigests().map(\.sha256) == source.tensors.map { try source.tensor(named: $0.name).sha256 })
    }

    @Test func verifyReportsEveryMismatchByName() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try Checkpoint.open(Self.path("model_bert_tiny.safetensors"))
        let index = try ShardedWriter.write(source, to: directory + "/s", maximumShardSize: 600)
        let digest = try ContentDigest.compute(for: source)
        #expect(try Verification.verify(index, expectations: .init(contentDigest: digest)).allSatisfy(\.passed))

        let wrong = String(repeating: "a", count: 64)
        let findings = try Verification.verify(index, expectations: .init(sha256: wrong, contentDigest: wrong))
        #expect(Set(findings.filter { !$0.passed }.map(\.subject)) == [index, "\(index) content digest"])

        // A wrong total_size in the index is caught.
        let text = try String(contentsOfFile: index, encoding: .utf8)
        try text.replacingOccurrences(of: "\"total_size\": ", with: "\"total_size\": 1").write(toFile: index, atomically: true, encoding: .utf8)
        let sized = try Verification.verify(index, expectations: .init())
        #expect(sized.map(\.subject) == ["\(index) total_size"] && !sized[0].passed)

        // A manifest: a changed file and a missing file are each named.
        let manifest = try Manifest.make(for: [directory + "/s"])
        #expect(manifest.entries.count == 1 + (try FileManager.default.contentsOfDirectory(atPath: directory + "/s").count - 1))
        try manifest.text.write(toFile: directory + "/SHA256SUMS", atomically: true, encoding: .utf8)
        let shard = manifest.entries.first { $0.path.hasSuffix("00001-of-00002.safetensors") || $0.path.contains("00001-of-") }!.path
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: shard)))
        bytes[bytes.count - 1] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: shard))
        try FileManager.default.removeItem(atPath: index)
        let checked = try Verification.verify(directory + "/s", expectations: .init(manifestPath: directory + "/SHA256SUMS"))
        #expect(Set(checked.filter { !$0.passed }.map(\.subject)).isSuperset(of: [shard, index]))
        #expect(errorCode { _ = try Manifest.parse("not a manifest line\n", file: "m") } == .invalidData)
    }

    @Test func diffComparesValuesAcrossDTypesAndLayouts() throws {
        let a = try SafetensorsFile(bytes: SafetensorsWriter.serialize([
            Tensor(name: "same", shape: [2], elements: [1, 2] as [Float]),
            Tensor(name: "widened", shape: [2], elements: [1.5, -2] as [Float]),
            Tensor(name: "moved", shape: [3], elements: [1, 2, 3] as [Float]),
            Tensor(name: "reshaped", shape: [2], elements: [1, 2] as [Float]),
            Tensor(name: "big", shape: [1], elements: [1 << 60] as [Int64]),
            Tensor(name: "gone", shape: [1], elements: [1] as [UInt8]),
        ], metadata: nil))
        let b = try SafetensorsFile(bytes: SafetensorsWriter.serialize([
            Tensor(name: "same", shape: [2], elements: [1, 2] as [Float]),
            Tensor(name: "widened", shape: [2], elements: [1.5, -2] as [Double]),
            Tensor(name: "moved", shape: [3], elements: [1, 2.5, .nan] as [Float]),
            Tensor(name: "reshaped", shape: [1, 2], elements: [1, 2] as [Float]),
            Tensor(name: "big", shape: [1], elements: [(1 << 60) + 1] as [Int64]),
            Tensor(name: "new", shape: [1], elements: [1] as [UInt8]),
        ], metadata: nil))
        let diff = try TensorDiff.compare(a, b)
        #expect(!diff.isIdentical)
        #expect(diff.onlyInA.map(\.name) == ["gone"])
        #expect(diff.onlyInB.map(\.name) == ["new"])
        let changes = Dictionary(uniqueKeysWithValues: diff.changes.map { ($0.name, $0) })
        #expect(changes["same"] == nil)
        #expect(changes["widened"]?.differingElements == 0, "values are equal across dtypes")
        #expect(changes["moved"]?.differingElements == 2)
        #expect(changes["moved"]?.maxAbsDifference == .infinity, "a NaN against a number")
        #expect(changes["reshaped"]?.differingElements == nil)
        #expect(changes["big"]?.differingElements == 1, "64-bit integers are compared exactly")
        #expect(try TensorDiff.compare(a, a).isIdentical)
    }
}

@Suite struct CompressedVerificationTests {
    @Test func verifyChecksEveryTensorOfAContainerAndNamesTheDamagedOne() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plain = packageRoot.appendingPathComponent("Fixtures/safetensors/valid/model_bert_tiny.safetensors").path
        let packed = directory + "/model.wzst"
        _ = try CompressedWriter.compress(SafetensorsFile(path: plain), to: packed)
        let digest = try ContentDigest.compute(for: Checkpoint.open(plain))
        #expect(try ContentDigest.compute(for: Checkpoint.open(packed, formats: Checkpoint.allFormats)) == digest, "compression keeps the content digest")
        #expect(try TensorDiff.compare(Checkpoint.open(plain), Checkpoint.open(packed, formats: Checkpoint.allFormats)).isIdentical)
        let findings = try Verification.verify(packed, expectations: .init(contentDigest: digest), formats: Checkpoint.allFormats)
        let tensorCount = try SafetensorsFile(path: plain).tensors.count
        #expect(findings.count == tensorCount + 1)
        #expect(findings.filter { !$0.passed }.isEmpty)

        // Damage one byte in the middle of the frames (between the 16-byte prologue and the
        // index, whose offset the trailer's first field gives): exactly one tensor is reported.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: packed)))
        let indexOffset = bytes[(bytes.count - 56)..<(bytes.count - 48)].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(indexOffset > 16 && indexOffset < bytes.count)
        bytes[(16 + indexOffset) / 2] ^= 0x55
        try Data(bytes).write(to: URL(fileURLWithPath: packed))
        let damaged = try Verification.verify(packed, expectations: .init(), formats: Checkpoint.allFormats).filter { !$0.passed }
        #expect(damaged.count == 1, "\(damaged)")
        #expect(damaged.first?.subject.hasPrefix("tensor '") == true)
    }
}
