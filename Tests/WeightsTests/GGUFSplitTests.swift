import Foundation
import Testing
import Weights

/// A GGUF set split over files (`split.no`, `split.count`, `split.tensors.count`) opens as one.
@Suite struct GGUFSplitTests {
    struct Shard {
        var tensors: [(GGUFWriter.Tensor, [UInt8])]
        var number: UInt16
        var count: UInt16 = 3
        var total: Int32 = 4
    }

    static func floats(_ values: [Float]) -> [UInt8] { unsafe values.withUnsafeBytes { unsafe Array($0) } }

    static func standardShards() -> [Shard] {
        [
            Shard(tensors: [(.init(name: "a", type: .f32, shape: [2, 3]), floats([1, 2, 3, 4, 5, 6])),
                            (.init(name: "b", type: .q8_0, shape: [1, 32]), [0x00, 0x3C] + (0..<32).map { UInt8($0) })], number: 0),
            Shard(tensors: [(.init(name: "c", type: .f16, shape: [2]), [0x00, 0x3C, 0x00, 0xC0])], number: 1),
            Shard(tensors: [(.init(name: "d", type: .f32, shape: [1]), floats([-7]))], number: 2),
        ]
    }

    /// Writes `shards` as `directory/model-0000k-of-0000n.gguf`; returns the paths.
    static func write(_ shards: [Shard], in directory: String, name: String = "model") throws -> [String] {
        try shards.enumerated().map { index, shard in
            let path = directory + "/\(name)-0000\(index + 1)-of-0000\(shards.count).gguf"
            let writer = try GGUFWriter(path: path, metadata: [
                ("general.architecture", .string("llama")), ("split.no", .uint16(shard.number)),
                ("split.count", .uint16(shard.count)), ("split.tensors.count", .int32(shard.total)),
            ], tensors: shard.tensors.map(\.0), syncToDisk: false)
            for (_, bytes) in shard.tensors { try writer.write(bytes) }
            try writer.finish()
            return path
        }
    }

    static func error(_ body: () throws -> Void) -> WeightsError? {
        do { try body() } catch let error as WeightsError { return error } catch { return nil }
        return nil
    }

    @Test func anyShardOpensTheWholeSet() throws {
        let directory = try temporaryDirectory()
        let paths = try Self.write(Self.standardShards(), in: directory)
        for path in paths {
            let source = try #require(try Checkpoint.open(path) as? GGUFSplitSource)
            #expect(source.shards.count == 3 && source.path == paths[0])
            #expect(source.tensors.map(\.name) == ["a", "b", "c", "d"])
            #expect(source.tensors.map(\.shape) == [[2, 3], [1, 32], [2], [1]])
            #expect(try source.tensor(named: "a").floats() == [1, 2, 3, 4, 5, 6])
            #expect(try source.tensor(named: "b").floats() == (0..<32).map(Float.init))
            #expect(try source.tensor(named: "c").floats() == [1, -2])
            #expect(try source.tensor(named: "d").floats() == [-7])
            #expect(source.tensors[1].dataOffsets == 24..<152)
        }
        // Converted to one file, the shard keys are left out.
        let set = try GGUFSplitSource(files: paths.map { try GGUFFile(path: $0) }, keepingTypedMetadata: true)
        let single = directory + "/single.gguf"
        try GGUFConverter(source: set, type: nil).write(to: single)
        let file = try GGUFFile(path: single)
        #expect(file.metadata.keys == ["general.architecture", "general.alignment"])
        #expect(try Checkpoint.open(single) is GGUFTensorSource)
        #expect(file.tensors.map(\.name) == ["a", "b", "c", "d"])
    }

    @Test func anInconsistentSetNamesTheShard() throws {
        let directory = try temporaryDirectory()
        var shards = Self.standardShards()
        shards[1].number = 2
        var paths = try Self.write(shards, in: directory, name: "wrongno")
        var e = Self.error { _ = try Checkpoint.open(paths[0]) }
        #expect(e?.code == .invalidData && e?.file == paths[1])

        shards = Self.standardShards()
        shards[2].total = 5
        paths = try Self.write(shards, in: directory, name: "total")
        e = Self.error { _ = try Checkpoint.open(paths[0]) }
        #expect(e?.code == .invalidData && e?.reason.contains("split.tensors.count") == true)

        shards = Self.standardShards()
        shards[2].tensors = [(.init(name: "a", type: .f32, shape: [1]), Self.floats([0]))]
        paths = try Self.write(shards, in: directory, name: "duplicate")
        e = Self.error { _ = try Checkpoint.open(paths[0]) }
        #expect(e?.code == .duplicateTensorName && e?.tensor == "a")

        paths = try Self.write(Self.standardShards(), in: directory, name: "missing")
        try FileManager.default.removeItem(atPath: paths[2])
        e = Self.error { _ = try Checkpoint.open(paths[0]) }
        #expect(e?.code == .io && e?.file == paths[2])

        // A shard whose name does not say where the others are.
        let lone = directory + "/lone.gguf"
        try FileManager.default.copyItem(atPath: try Self.write(Self.standardShards(), in: directory, name: "lone")[0], toPath: lone)
        e = Self.error { _ = try Checkpoint.open(lone) }
        #expect(e?.code == .invalidData && e?.file == lone)
    }

    @Test func shardPathsFollowLlamaCppsPattern() {
        #expect(GGUFSplitSource.shardPaths(of: "/m/x-00002-of-00003.gguf", count: 3)
                == ["/m/x-00001-of-00003.gguf", "/m/x-00002-of-00003.gguf", "/m/x-00003-of-00003.gguf"])
        #expect(GGUFSplitSource.shardPaths(of: "/m/x-00002-of-00004.gguf", count: 3) == nil)
        #expect(GGUFSplitSource.shardPaths(of: "/m/x.gguf", count: 3) == nil)
        #expect(GGUFSplitSource.shardPaths(of: "-00001-of-00002.gguf", count: 2) == nil)
    }
}
