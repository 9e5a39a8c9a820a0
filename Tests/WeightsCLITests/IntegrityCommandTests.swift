import Foundation
import Testing
import Weights

/// `weights digest`, `manifest`, `verify` and `diff`, run as a user runs them.
@Suite struct IntegrityCommandTests {
    /// The exit status of GNU `sha256sum --check --strict MANIFEST`.
    static func sha256sumCheck(_ manifest: String) throws -> Int32 {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        check.arguments = ["--check", "--strict", manifest]
        check.standardOutput = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        return check.terminationStatus
    }

    @Test func manifestIsAcceptedBySha256sum() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let convert = try runWeights(["convert", fixture("valid/model_bert_tiny.safetensors"), directory + "/m", "--shard-size", "600B"])
        #expect(convert.status == 0, "\(convert.standardError)")
        let manifest = try runWeights(["manifest", directory + "/m"])
        #expect(manifest.status == 0)
        let lines = manifest.standardOutput.split(separator: "\n")
        #expect(lines.count == (try FileManager.default.contentsOfDirectory(atPath: directory + "/m").count))
        try manifest.standardOutput.write(toFile: directory + "/SHA256SUMS", atomically: true, encoding: .utf8)

        #expect(try Self.sha256sumCheck(directory + "/SHA256SUMS") == 0, "sha256sum -c accepts the manifest")

        let verify = try runWeights(["verify", directory + "/m", "--manifest", directory + "/SHA256SUMS"])
        #expect(verify.status == 0, "\(verify.standardOutput)")
        #expect(verify.standardOutput.contains("checks passed"))
    }

    /// File names with a line feed, a carriage return or a backslash: `weights manifest` escapes
    /// them as `sha256sum` does, so both `sha256sum -c` and `verify --manifest` check every file
    /// (unescaped, the line feed split an entry in two).
    @Test func manifestEscapesNamesAsSha256sumDoes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let names = ["line\nfeed.bin", "carriage\rreturn.bin", "back\\slash.bin", "plain.bin"]
        try FileManager.default.createDirectory(atPath: directory + "/m", withIntermediateDirectories: true)
        for (index, name) in names.enumerated() {
            try Data([UInt8(index)]).write(to: URL(fileURLWithPath: directory + "/m/" + name))
        }
        let manifest = try runWeights(["manifest", directory + "/m"])
        #expect(manifest.status == 0, "\(manifest.standardError)")
        let lines = manifest.standardOutput.split(separator: "\n")
        #expect(lines.count == names.count)
        #expect(lines.filter { $0.hasPrefix("\\") }.count == 3, "the three odd names are escaped")
        try manifest.standardOutput.write(toFile: directory + "/SHA256SUMS", atomically: true, encoding: .utf8)

        #expect(try Self.sha256sumCheck(directory + "/SHA256SUMS") == 0, "sha256sum -c accepts the escaped manifest")

        let verify = try runWeights(["verify", directory + "/m/plain.bin", "--manifest", directory + "/SHA256SUMS"])
        #expect(verify.status == 0, "\(verify.standardOutput)")
        #expect(verify.standardOutput.components(separatedBy: ": OK").count - 1 >= names.count, "\(verify.standardOutput)")
    }

    /// The index path itself, not its directory: the index is parsed while its mapping lives
    /// (it used to be unmapped first, and the command died with SIGSEGV).
    @Test func manifestOfAnIndexListsTheIndexAndItsShards() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let convert = try runWeights(["convert", fixture("valid/model_bert_tiny.safetensors"), directory + "/m", "--shard-size", "600B"])
        #expect(convert.status == 0, "\(convert.standardError)")
        let index = directory + "/m/model.safetensors.index.json"
        let manifest = try runWeights(["manifest", index])
        #expect(manifest.status == 0, "\(manifest.standardError)")
        let shards = try FileManager.default.contentsOfDirectory(atPath: directory + "/m")
            .filter { $0.hasSuffix(".safetensors") }.sorted()
        #expect(shards.count >= 2, "the fixture splits into several shards at 600 bytes")
        let expected = try ([index] + shards.map { directory + "/m/" + $0 })
            .map { "\(try SHA256Digest.file(at: $0))  \($0)\n" }.joined()
        #expect(manifest.standardOutput == expected)

        let missing = try runWeights(["manifest", directory + "/none/model.safetensors.index.json"])
        #expect(missing.status == 1)
        #expect(missing.standardError.hasPrefix("error: \(directory)/none/model.safetensors.index.json: "))
    }

    @Test func verifyExitsOneNamingEachMismatch() throws {
        let path = fixture("valid/golden_w_f16.safetensors")
        let digest = try runWeights(["digest", path]).standardOutput.prefix(64)
        let ok = try runWeights(["verify", path, "--digest", String(digest),
                                 "--sha256", "2fb40456f0831008378ac5ce280c11e69d0fa2d646123f13901123a63717756f"])
        #expect(ok.status == 0, "\(ok.standardOutput)")
        let wrong = String(repeating: "0", count: 64)
        let bad = try runWeights(["verify", path, "--digest", wrong, "--sha256", wrong])
        #expect(bad.status == 1)
        let failed = bad.standardOutput.split(separator: "\n").filter { $0.contains("FAILED (") }
        #expect(failed.count == 2)
        #expect(failed.contains { $0.hasPrefix("\(path): FAILED") })
        #expect(failed.contains { $0.hasPrefix("\(path) content digest: FAILED") })
        let malformed = try runWeights(["verify", path, "--sha256", "xyz"])
        #expect(malformed.status != 0 && malformed.standardError.contains("64 hex digits"))
    }

    @Test func diffExitsZeroOnlyForIdenticalContent() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = fixture("valid/model_bert_tiny.safetensors")
        _ = try runWeights(["convert", source, directory + "/s", "--shard-size", "600B"])
        let same = try runWeights(["diff", source, directory + "/s"])
        #expect(same.status == 0)
        #expect(same.standardOutput.hasPrefix("identical"))
        let other = try runWeights(["diff", source, fixture("valid/golden_w_f16.safetensors"), "--json"])
        #expect(other.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(other.standardOutput.utf8)) as? [String: Any])
        #expect(object["identical"] as? Bool == false)
        #expect((object["only_in_b"] as? [[String: Any]])?.first?["name"] as? String == "w")
    }
}

@Suite struct EmbeddedDigestCommandTests {
    @Test func convertEmbedsDigestsThatVerifyChecksAndOtherReadersIgnore() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = fixture("valid/model_bert_tiny.safetensors")
        for extra in [[], ["--dtype", "bf16"]] {
            let out = directory + "/embedded\(extra.count).safetensors"
            let convert = try runWeights(["convert", source, out, "--embed-digests"] + extra)
            #expect(convert.status == 0, "\(convert.standardError)")
            let file = try SafetensorsFile(path: out)
            #expect(file.metadata?["format"] == "pt", "existing metadata is kept")
            #expect(file.metadata?["weights.content_digest"] != nil)
            #expect(file.tensors.allSatisfy { file.metadata?["weights.sha256.\($0.name)"] != nil })
            let verify = try runWeights(["verify", out])
            #expect(verify.status == 0, "\(verify.standardOutput)")
            #expect(verify.standardOutput.contains("checks passed"))
            // The digests describe the tensors, so the content digest is the plain copy's.
            let plain = directory + "/plain\(extra.count).safetensors"
            _ = try runWeights(["convert", source, plain] + extra)
            #expect(try runWeights(["digest", out]).standardOutput.prefix(64) == runWeights(["digest", plain]).standardOutput.prefix(64))
        }
        // A tensor changed after the fact is named.
        let out = directory + "/embedded0.safetensors"
        let file = try SafetensorsFile(path: out)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
        let victim = try #require(file.tensors.last { $0.byteCount > 0 })
        bytes[file.dataOffset + victim.dataOffsets.lowerBound] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: out))
        let verify = try runWeights(["verify", out])
        #expect(verify.status == 1)
        #expect(verify.standardOutput.contains("tensor '\(victim.name)': FAILED"))
        // Refused before any work: no shard is written.
        let refused = try runWeights(["convert", source, directory + "/s", "--embed-digests", "--shard-size", "1MB"])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("cannot be combined with --shard-size"), "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/s"))
    }
}
