import Foundation
import Testing

/// `weights embed --model DIR` where DIR holds `model.wzst` in place of `model.safetensors`.
@Suite struct EmbedCompressedTests {
    @Test func aModelDirectoryWithAContainerEmbedsAsThePlainOne() throws {
        try #require(FileManager.default.fileExists(atPath: modelPath()),
                     "all-MiniLM-L6-v2 is not installed at \(modelPath()): run scripts/setup")
        let manager = FileManager.default
        let directory = manager.temporaryDirectory.appendingPathComponent("weights-embed-wzst-\(getpid())").path
        try? manager.removeItem(atPath: directory)
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? manager.removeItem(atPath: directory) }
        // Every file of the installed model but its weights, which go in as a container.
        let model = defaultModelDirectory()
        for name in try manager.contentsOfDirectory(atPath: model) where name != "model.safetensors" {
            try manager.createSymbolicLink(atPath: directory + "/" + name, withDestinationPath: model + "/" + name)
        }
        let compress = try runWeights(["compress", modelPath(), directory + "/model.wzst"])
        #expect(compress.status == 0, "\(compress.standardError)")

        let sentences = Array(EmbedCommandTests.reference.sentences.prefix(3))
        let result = try runWeights(["embed", "--json", "--model", directory] + sentences)
        #expect(result.status == 0, "\(result.standardError)")
        let vectors = try JSONDecoder().decode([[Float]].self, from: Data(result.standardOutput.utf8))
        try #require(vectors.count == sentences.count)
        let plain = try runWeights(["embed", "--json", "--model", model] + sentences)
        let expected = try JSONDecoder().decode([[Float]].self, from: Data(plain.standardOutput.utf8))
        // The same weights, bit for bit: the same vectors.
        #expect(vectors == expected)
    }

    @Test func aDamagedContainerIsReportedByName() throws {
        try #require(FileManager.default.fileExists(atPath: modelPath()),
                     "all-MiniLM-L6-v2 is not installed at \(modelPath()): run scripts/setup")
        let manager = FileManager.default
        let directory = manager.temporaryDirectory.appendingPathComponent("weights-embed-wzst-bad-\(getpid())").path
        try? manager.removeItem(atPath: directory)
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? manager.removeItem(atPath: directory) }
        let model = defaultModelDirectory()
        for name in try manager.contentsOfDirectory(atPath: model) where name != "model.safetensors" {
            try manager.createSymbolicLink(atPath: directory + "/" + name, withDestinationPath: model + "/" + name)
        }
        let container = directory + "/model.wzst"
        #expect(try runWeights(["compress", modelPath(), container]).status == 0)
        // A flipped byte in the middle of the frames (the word embeddings' first chunks).
        var bytes = try Data(contentsOf: URL(fileURLWithPath: container))
        bytes[1 << 20] ^= 0x55
        try bytes.write(to: URL(fileURLWithPath: container))
        let result = try runWeights(["embed", "--model", directory, "hello"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("model.wzst"))
    }
}
