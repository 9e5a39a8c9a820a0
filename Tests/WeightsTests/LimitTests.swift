import Foundation
import Testing
import Weights

import WeightsPlatform

/// Sizes and counts read from inputs are checked against the input or a documented limit
/// before anything is allocated from them (Spec/limits.md).
@Suite struct LimitTests {
    /// An index whose weight_map names `shards` shard files, one tensor each.
    static func index(shards: Int) -> [UInt8] {
        let entries = (0..<shards).map { "\"t\($0)\": \"s\($0).safetensors\"" }.joined(separator: ",")
        return Array("{\"metadata\": {\"total_size\": 0}, \"weight_map\": {\(entries)}}".utf8)
    }

    @Test func shardCountIsLimited() throws {
        let atLimit = unsafe try Self.index(shards: ShardIndex.maximumShardCount).withUnsafeBytes { unsafe try ShardIndex.decode($0) }
        #expect(atLimit.shardFiles.count == 4096)
        let error = try #require(throws: WeightsError.self) {
            unsafe try Self.index(shards: ShardIndex.maximumShardCount + 1).withUnsafeBytes { unsafe try ShardIndex.decode($0) }
        }
        #expect(error.code == .limitExceeded)
        #expect(error.reason.contains("4097 shard files"))

        // Through the reader: refused before any shard is opened (none of them exists).
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.safetensors.index.json"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.index(shards: 4097))))
        let opened = try #require(throws: WeightsError.self) { try ShardedCheckpoint(indexPath: path) }
        #expect(opened.code == .limitExceeded && opened.file == path)
    }

    @Test func indexSizeIsLimited() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.safetensors.index.json"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.index(shards: 1))))
        unsafe #expect(truncate(path, off_t(ShardIndex.maximumLength + 1)) == 0)     // sparse
        let error = try #require(throws: WeightsError.self) { try ShardedCheckpoint(indexPath: path) }
        #expect(error.code == .limitExceeded && error.file == path)
        #expect(error.reason.contains("100000001 bytes"))
    }

    /// The header length is checked against the limit and the file before the header is read.
    @Test func headerLengthIsCheckedBeforeAnythingIsRead() throws {
        let huge = fileBytes(json: "{}", declaredLength: UInt64(SafetensorsHeader.maximumLength) + 1)
        #expect(readError(huge)?.code == .headerTooLarge)
        let pastTheEnd = fileBytes(json: "{}", declaredLength: 1000)
        #expect(readError(pastTheEnd)?.code == .invalidHeaderLength)
    }

    /// `mapping: .none` allocates exactly the file's size, read whole.
    @Test func unmappedOpenAllocatesTheFilesSize() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/w.safetensors"
        try SafetensorsWriter.write([try Tensor(name: "w", shape: [3], elements: [Float(1), 2, 3])], metadata: nil, to: path)
        let file = try SafetensorsFile(path: path, mapping: .none)
        #expect(!file.storage.isMapped)
        #expect(file.fileSize == ChangingFileTestsSize.of(path))
        #expect(try file.tensor(named: "w").elements(of: Float.self) == [1, 2, 3])
    }
}

enum ChangingFileTestsSize {
    static func of(_ path: String) -> Int {
        var status = stat()
        return unsafe stat(path, &status) == 0 ? Int(status.st_size) : -1
    }
}
