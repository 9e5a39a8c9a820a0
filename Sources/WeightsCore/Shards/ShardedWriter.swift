/// Writes a set of tensors as a sharded checkpoint: numbered safetensors files and their index.
///
/// Shards are filled greedily in the source's order: a tensor that would take a shard past
/// `maximumShardSize` bytes of tensor data starts the next one, and a tensor larger than the
/// limit gets a shard of its own. Files are named as the model hub names them,
/// `model-00001-of-00003.safetensors`, and the index is written last, so a reader that finds
/// the index finds every shard. Each file is written atomically.
///
/// ```swift
/// let source = try Checkpoint.open("model.safetensors")
/// let index = try ShardedWriter.write(source, to: "sharded", maximumShardSize: 2_000_000_000)
/// // "sharded/model.safetensors.index.json"
/// ```
public enum ShardedWriter {
    /// The hub's default limit: 5 GB.
    public static let defaultMaximumShardSize = 5_000_000_000

    /// Groups `tensors`, in order, into shards of at most `maximumShardSize` data bytes.
    ///
    /// - Complexity: O(*n*).
    public static func plan(_ tensors: [TensorInfo], maximumShardSize: Int) -> [[TensorInfo]] {
        var shards: [[TensorInfo]] = []
        var current: [TensorInfo] = []
        var currentSize = 0
        for tensor in tensors {
            if !current.isEmpty, currentSize + tensor.byteCount > maximumShardSize {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(tensor)
            currentSize += tensor.byteCount
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        return shards
    }

    /// The hub's name for shard `number` (1-based) of `count`.
    public static func shardFileName(_ number: Int, of count: Int) -> String {
        func fiveDigits(_ value: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, 5 - text.count)) + text
        }
        return "model-\(fiveDigits(number))-of-\(fiveDigits(count)).safetensors"
    }

    /// Writes every tensor of `source` into shards in `directory`, which is created if missing,
    /// then the index. Each shard carries `metadata` (default: the source's metadata, or
    /// `{"format": "pt"}` when it has none).
    ///
    /// - Returns: The index file's path.
    @discardableResult
    public static func write(
        _ source: any TensorSource, to directory: String,
        maximumShardSize: Int = defaultMaximumShardSize, metadata: [String: String]? = nil
    ) throws -> String {
        guard maximumShardSize > 0 else {
            throw WeightsError(.invalidArgument, "the shard size must be positive", file: directory)
        }
        try createDirectory(directory)
        let shardMetadata = metadata ?? source.metadata ?? ["format": "pt"]
        let shards = plan(source.tensors, maximumShardSize: maximumShardSize)
        var weightMap: [String: String] = [:]
        for (position, shard) in shards.enumerated() {
            let name = shardFileName(position + 1, of: shards.count)
            let writer = try SafetensorsWriter(path: directory + "/" + name,
                                               tensors: shard.map(\.descriptor), metadata: shardMetadata)
            try writer.write(from: source)
            try writer.finish()
            for tensor in shard { weightMap[tensor.name] = name }
        }
        let totalSize = source.tensors.reduce(0) { $0 + $1.byteCount }
        let indexPath = directory + "/" + ShardedCheckpoint.indexFileName
        let indexFile = try AtomicFile(path: indexPath)
        try indexFile.write(ShardIndex(totalSize: totalSize, weightMap: weightMap).encoded())
        try indexFile.commit()
        return indexPath
    }

    static func createDirectory(_ path: String) throws {
        if Checkpoint.isDirectory(path) { return }
        guard unsafe mkdir(path, 0o755) == 0 || errno == EEXIST else {  // Sound: the path is a NUL-terminated copy for the call.
            throw WeightsError.system("cannot create directory", file: path)
        }
    }
}

extension TensorInfo {
    /// The name, dtype and shape.
    public var descriptor: TensorDescriptor { TensorDescriptor(name: name, dtype: dtype, shape: shape) }
}

import WeightsPlatform

extension TensorSource {
    /// Writes the source as a sharded checkpoint in `directory` (see ``ShardedWriter``).
    ///
    /// - Returns: The index file's path.
    @discardableResult
    public func writeShards(to directory: String, maximumShardSize: Int = ShardedWriter.defaultMaximumShardSize,
                            metadata: [String: String]? = nil) throws -> String {
        try ShardedWriter.write(self, to: directory, maximumShardSize: maximumShardSize, metadata: metadata)
    }
}
