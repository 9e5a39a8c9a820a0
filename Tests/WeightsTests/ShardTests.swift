import Foundation
import Testing
import Weights

@Suite struct ShardTests {
    static func sampleFile(in directory: String) throws -> SafetensorsFile {
        let tensors = try (0..<6).map { try Tensor(name: "layer.\($0).weight", shape: [10], elements: Array(repeating: Float($0), count: 10)) }
            + [Tensor(name: "ids", shape: [3], elements: [1, 2, 3] as [Int64])]
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory + "/model.safetensors")
        return try SafetensorsFile(path: directory + "/model.safetensors")
    }

    @Test func planFillsGreedilyAndGivesLargeTensorsTheirOwnShard() {
        let sizes = [40, 40, 30, 200, 10, 10]
        let infos = sizes.enumerated().map { TensorInfo(name: "t\($0)", dtype: .u8, shape: [$1], dataOffsets: 0..<$1) }
        let plan = ShardedWriter.plan(infos, maximumShardSize: 100)
        #expect(plan.map { $0.map(\.name) } == [["t0", "t1"], ["t2"], ["t3"], ["t4", "t5"]])
        #expect(ShardedWriter.shardFileName(2, of: 13) == "model-00002-of-00013.safetensors")
    }

    @Test func writeThenReadAsOneSet() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try Self.sampleFile(in: directory)
        let index = try ShardedWriter.write(source, to: directory + "/sharded", maximumShardSize: 100)
        #expect(index == directory + "/sharded/model.safetensors.index.json")
        let sharded = try ShardedCheckpoint(indexPath: index)
        // [ids (24 B), layer.0 (40 B)], [layer.1, layer.2], [layer.3, layer.4], [layer.5]
        #expect(sharded.shards.count == 4)
        #expect(Set(sharded.tensors.map(\.name)) == Set(source.tensors.map(\.name)))
        #expect(sharded.index.totalSize == source.tensors.reduce(0) { $0 + $1.byteCount })
        #expect(sharded.metadata == ["format": "pt"])
        for info in source.tensors {
            #expect(try sharded.tensor(named: info.name).copyBytes() == source.tensor(info).copyBytes())
        }
        // The directory opens too, and back to one file gives the original bytes.
        let reopened = try Checkpoint.open(directory + "/sharded")
        #expect(reopened is ShardedCheckpoint)
        try SafetensorsWriter.write(try reopened.tensors.map { try reopened.tensor(named: $0.name) }, metadata: reopened.metadata,
                                    to: directory + "/joined.safetensors")
        #expect(FileManager.default.contents(atPath: directory + "/joined.safetensors")
                == FileManager.default.contents(atPath: directory + "/model.safetensors"))
    }

    @Test func indexIsWrittenAsTransformersWritesIt() {
        let index = ShardIndex(totalSize: 16, weightMap: ["b": "model-00002-of-00002.safetensors", "a": "model-00001-of-00002.safetensors", "\u{E9}\u{1F600}": "x"])
        let text = String(decoding: index.encoded(), as: UTF8.self)
        #expect(text == """
            {
              "metadata": {
                "total_size": 16
              },
              "weight_map": {
                "a": "model-00001-of-00002.safetensors",
                "b": "model-00002-of-00002.safetensors",
                "\\u00e9\\ud83d\\ude00": "x"
              }
            }

            """)
        #expect(text.utf8.allSatisfy { $0 < 0x80 })
    }

    @Test func disagreementsBetweenIndexAndShardsAreErrors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try Self.sampleFile(in: directory)
        let index = try ShardedWriter.write(source, to: directory + "/s", maximumShardSize: 100)
        let original = try String(contentsOfFile: index, encoding: .utf8)

        func expectIndexError(_ text: String, tensor: String?, _ comment: Comment) throws {
            try text.write(toFile: index, atomically: true, encoding: .utf8)
            let error = #expect(throws: WeightsError.self, comment) { try ShardedCheckpoint(indexPath: index) }
            #expect(error?.code == .invalidShardIndex, comment)
            #expect(error?.file == index, comment)
            if let tensor { #expect(error?.tensor == tensor, comment) }
        }
        try expectIndexError(original.replacingOccurrences(of: "\"ids\": \"model-00001-of-00004.safetensors\"",
                                                           with: "\"ids\": \"model-00002-of-00004.safetensors\""),
                             tensor: "ids", "a tensor not where the index says")
        try expectIndexError(original.replacingOccurrences(of: "    \"ids\": \"model-00001-of-00004.safetensors\",\n", with: ""),
                             tensor: "ids", "a tensor the index leaves out")
        try expectIndexError(original.replacingOccurrences(of: "\"weight_map\": {", with: "\"weight_map\": {\n    \"ghost\": \"model-00001-of-00004.safetensors\","),
                             tensor: "ghost", "a tensor missing from its shard")
        try expectIndexError(original.replacingOccurrences(of: "model-00003-of-00004", with: "model-00009-of-00004"),
                             tensor: nil, "a missing shard")
        try expectIndexError(original.replacingOccurrences(of: "\"model-00003-of-00004.safetensors\"", with: "\"../x\""),
                             tensor: nil, "a shard outside the directory")
        try expectIndexError("{\"metadata\": {}}", tensor: nil, "no weight_map")
        try expectIndexError("{\"weight_map\": ", tensor: nil, "not JSON")
    }
}
