import Foundation
import Testing
import Weights

/// `weights inspect`, `hash` and `convert`, run as a user runs them.
@Suite struct CoreCommandTests {
    @Test func inspectJSONIsTheDocumentedObject() throws {
        let path = fixture("valid/golden_w_f16.safetensors")
        let result = try runWeights(["inspect", path, "--json"])
        #expect(result.status == 0)
        #expect(result.standardOutput == """
            {"format":"safetensors","file_size":104,"header_size":88,"metadata":{"format":"pt"},"tensors":[{"name":"w","dtype":"F16","shape":[2,2],"data_offsets":[0,8]}]}

            """)
        let parsed = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        #expect(parsed?["format"] as? String == "safetensors")
    }

    @Test func inspectTableShowsTensorsTotalsAndMetadata() throws {
        let result = try runWeights(["inspect", fixture("valid/model_bert_tiny.safetensors")])
        #expect(result.status == 0)
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("name") == true)
        #expect(lines.contains { $0.contains("tensors,") && $0.contains("parameters") })
        #expect(lines.contains { $0.hasPrefix("metadata") })
    }

    @Test func inspectOfAShardedSetSumsSizesAndNamesFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = fixture("valid/model_bert_tiny.safetensors")
        let convert = try runWeights(["convert", source, directory + "/sharded/model.safetensors.index.json", "--shard-size", "1kB"])
        #expect(convert.status == 0, "\(convert.standardError)")
        let result = try runWeights(["inspect", directory + "/sharded", "--json"])
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "safetensors-sharded")
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.allSatisfy { ($0["file"] as? String)?.hasPrefix("model-0000") == true })
        let shardSizes = try FileManager.default.contentsOfDirectory(atPath: directory + "/sharded").filter { $0.hasPrefix("model-") }
            .map { try FileManager.default.attributesOfItem(atPath: directory + "/sharded/" + $0)[.size] as! Int }
        #expect(object["file_size"] as? Int == shardSizes.reduce(0, +))
        // Back to one file: the original bytes.
        let joined = try runWeights(["convert", directory + "/sharded", directory + "/joined.safetensors"])
        #expect(joined.status == 0)
        #expect(FileManager.default.contents(atPath: directory + "/joined.safetensors") == FileManager.default.contents(atPath: source))
    }

    @Test func hashPrintsWhatSha256sumPrints() throws {
        let path = fixture("valid/golden_w_f16.safetensors")
        let result = try runWeights(["hash", path])
        #expect(result.status == 0)
        let expected = SHA256Digest.hex(of: try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(result.standardOutput == "\(expected)  \(path)\n")
        let tensors = try runWeights(["hash", "--tensors", path])
        let w = try SafetensorsFile(path: path).tensor(named: "w")
        #expect(tensors.standardOutput == "\(SHA256Digest.hex(of: w))  w\n")
    }

    @Test func hashOfTheModelIsTheHubDigest() throws {
        let result = try runWeights(["hash", modelPath()])
        #expect(result.standardOutput.hasPrefix("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  "),
                "run scripts/setup to install the model")
    }

    @Test func convertOfAReferenceFileIsByteIdentical() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["all_dtypes_except_f6", "name_escaping", "meta_format_pt", "empty_no_meta"] {
            let source = fixture("valid/\(name).safetensors")
            let result = try runWeights(["convert", source, directory + "/\(name).safetensors"])
            #expect(result.status == 0, "\(result.standardError)")
            #expect(FileManager.default.contents(atPath: directory + "/\(name).safetensors") == FileManager.default.contents(atPath: source))
        }
    }

    @Test func errorsAreOneLineNamingThePathWithExitOne() throws {
        let malformed = fixture("malformed/offset_gap.safetensors")
        let cases: [([String], String)] = [
            (["inspect", "/no/such/file.safetensors"], "error: /no/such/file.safetensors: cannot open"),
            (["inspect", malformed], "error: \(malformed): "),
            (["hash", "--tensors", malformed], "error: \(malformed): "),
            (["convert", malformed, "/tmp/never-written.safetensors"], "error: \(malformed): "),
        ]
        for (arguments, prefix) in cases {
            let result = try runWeights(arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.standardError.hasPrefix(prefix), "\(arguments): \(result.standardError)")
            #expect(result.standardError.split(separator: "\n").count == 1)
            #expect(result.standardOutput.isEmpty)
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written.safetensors"))
    }

    @Test func everySubcommandHasHelp() throws {
        let help = try runWeights(["--help"])
        #expect(help.status == 0)
        for command in ["inspect", "hash", "convert"] {
            #expect(help.standardOutput.contains(command))
            let result = try runWeights(["help", command])
            #expect(result.status == 0)
            #expect(result.standardOutput.contains("USAGE: weights \(command)"))
        }
        let bad = try runWeights(["convert", "a", "b", "--shard-size", "lots"])
        #expect(bad.status != 0)
        #expect(bad.standardError.contains("invalid size 'lots'"))
    }
}
