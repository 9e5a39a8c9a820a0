import Foundation
import Testing
import Weights

/// `weights inspect` on GGUF files, run as a user runs it.
@Suite struct GGUFInspectTests {
    func fixture(_ name: String) -> String { packagePath("Fixtures/gguf/" + name) }

    @Test func inspectJSONIsTheDocumentedObject() throws {
        let result = try runWeights(["inspect", fixture("metadata.gguf"), "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "gguf")
        #expect(object["version"] as? Int == 3)
        #expect(object["alignment"] as? Int == 32)
        let metadata = try #require(object["metadata"] as? [String: [String: Any]])
        #expect(metadata["general.architecture"]?["type"] as? String == "STRING")
        #expect(metadata["general.architecture"]?["value"] as? String == "fixture")
        #expect(metadata["test.uint16"]?["type"] as? String == "UINT16")
        #expect(metadata["test.uint16"]?["value"] as? Int == 60000)
        #expect(metadata["test.bool_true"]?["value"] as? Bool == true)
        #expect(metadata["test.array_string"]?["item_type"] as? String == "STRING")
        #expect(metadata["test.array_string"]?["value"] as? [String] == ["a", "", "ünï", "<bos>"])
        // 100 items: over the limit of 64, so summarized.
        let long = try #require(metadata["test.array_long"])
        #expect(long["value"] == nil)
        #expect(long["type"] as? String == "ARRAY")
        #expect(long["item_type"] as? String == "INT32")
        #expect(long["length"] as? Int == 100)
        #expect(long["head"] as? [Int] == Array(0..<8))
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.count == 1)
        #expect(tensors[0]["name"] as? String == "tiny")
        #expect(tensors[0]["type"] as? String == "F32")
        #expect(tensors[0]["shape"] as? [Int] == [3, 2])
        #expect(tensors[0]["offset"] as? Int == 0)
        #expect(tensors[0]["bytes"] as? Int == 24)
        // Members in the documented order, keys in file order.
        let text = result.standardOutput
        #expect(text.hasPrefix(#"{"format":"gguf","version":3,"alignment":32,"#))
        let architecture = try #require(text.range(of: "\"general.architecture\""))
        let uint8 = try #require(text.range(of: "\"test.uint8\""))
        #expect(architecture.lowerBound < uint8.lowerBound)
    }

    @Test func inspectTableShowsMetadataTensorsAndTotals() throws {
        let result = try runWeights(["inspect", fixture("blocks-a64.gguf")])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("name") == true)
        #expect(lines.contains { $0.hasPrefix("q4_k ") && $0.contains("Q4_K") && $0.contains("[256, 2]") && $0.contains("288") })
        #expect(lines.contains { $0.hasPrefix("gguf v3") && $0.contains("alignment 64") })
        #expect(lines.contains { $0.hasPrefix("7 tensors, 3584 parameters") })
        #expect(lines.contains("  Q4_K: 1 tensors, 512 parameters, 288 bytes (288 B), 4.50 bits per weight"))
        #expect(lines.contains { $0.contains("general.alignment (UINT32): 64") })
    }

    @Test func inspectOfAMalformedGGUFNamesTheFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bad.gguf"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture("metadata.gguf")))
        try bytes.prefix(800).write(to: URL(fileURLWithPath: path))
        let result = try runWeights(["inspect", path])
        #expect(result.status != 0)
        #expect(result.standardError.contains("bad.gguf"))
        #expect(result.standardError.contains("byte offset"))
    }
}
