/// A checkpoint split over several safetensors files, read as one set of tensors.
///
/// Opening reads the index, maps every shard and checks that they agree: each tensor the index
/// names is in the shard it names, and every shard's tensors are all in the index.
///
/// ```swift
/// let model = try ShardedCheckpoint(indexPath: "llama/model.safetensors.index.json")
/// model.shard(of: "lm_head.weight")   // "model-00004-of-00004.safetensors"
/// ```
public final class ShardedCheckpoint: TensorSource, @unchecked Sendable {
    /// The index file's conventional name.
    public static let indexFileName = "model.safetensors.index.json"

    /// The index file's path.
    public let path: String
    public let index: ShardIndex
    /// The shards, in file-name order.
    public let shards: [SafetensorsFile]
    private let shardOfTensor: [UTF8Key: Int]

    /// Opens the index at `indexPath` and every shard it names.
    ///
    /// - Throws: `invalidShardIndex` for a malformed index, a missing shard, a tensor that is not
    ///   where the index says, or a tensor the index leaves out; the shards' own reader errors.
    ///
    /// - Parameters:
    ///   - indexPath: The `model.safetensors.index.json` file; shards are looked up beside it.
    ///   - mapping: how each shard is read (see ``SafetensorsFile/Mapping``).
    public init(indexPath: String, mapping: SafetensorsFile.Mapping = .map) throws {
        path = indexPath
        let storage = try ByteStorage.map(path: indexPath)
        // Sound: decoded inside `withUnsafeBytes`, which keeps the storage alive.
        index = try WeightsError.tagging(file: indexPath) { unsafe try storage.withUnsafeBytes { unsafe try ShardIndex.decode($0) } }
        let directory = AtomicFile.directory(of: indexPath)
        var shards: [SafetensorsFile] = []
        var shardOfTensor: [UTF8Key: Int] = [:]
        for file in index.shardFiles {
            let shardPath = directory + "/" + file
            guard Checkpoint.fileExists(shardPath) else {
                throw WeightsError(.invalidShardIndex, "shard '\(file)' named by the index is missing", file: indexPath)
            }
            let shard = try SafetensorsFile(path: shardPath, mapping: mapping)
            for tensor in shard.tensors {
                guard let listed = index.weightMap.first(utf8: tensor.name) else {
                    throw WeightsError(.invalidShardIndex, "tensor '\(tensor.name)' in shard '\(file)' is not in the index",
                                       file: indexPath, tensor: tensor.name)
                }
                guard listed == file else {
                    throw WeightsError(.invalidShardIndex,
                        "tensor '\(tensor.name)' is in shard '\(file)', but the index puts it in '\(listed)'",
                        file: indexPath, tensor: tensor.name)
                }
                shardOfTensor[UTF8Key(tensor.name)] = shards.count
            }
            shards.append(shard)
        }
        if let missing = index.weightMap.keys.first(where: { shardOfTensor[UTF8Key($0)] == nil }) {
            throw WeightsError(.invalidShardIndex,
                "tensor '\(missing)' is missing from shard '\(index.weightMap[missing]!)'", file: indexPath, tensor: missing)
        }
        self.shards = shards
        self.shardOfTensor = shardOfTensor
    }

    /// The metadata of the first shard (every shard usually carries the same).
    public var metadata: [String: String]? { shards.first?.metadata }

    /// Every tensor, shard by shard, in data order within each shard.
    public var tensors: [TensorInfo] { shards.flatMap(\.tensors) }

    /// The shard file name that holds `name`, or `nil`.
    public func shard(of name: String) -> String? {
        shardOfTensor[UTF8Key(name)].map { index.shardFiles[$0] }
    }

    /// Checks every shard (see ``TensorSource/checkUnchanged()``).
    public func checkUnchanged() throws {
        for shard in shards { try shard.checkUnchanged() }
    }

    public func tensor(named name: String) throws -> Tensor {
        guard let shard = shardOfTensor[UTF8Key(name)] else {
            throw WeightsError(.tensorNotFound, "no tensor named '\(name)'", file: path, tensor: name)
        }
        return try shards[shard].tensor(named: name)
    }
}

extension Dictionary where Key == String {
    /// The value for a key equal to `name` byte for byte (not merely canonically equivalent).
    package func first(utf8 name: String) -> Value? {
        guard let index = index(forKey: name), self[index].key.utf8.elementsEqual(name.utf8) else {
            return first { $0.key.utf8.elementsEqual(name.utf8) }?.value
        }
        return self[index].value
    }
}
