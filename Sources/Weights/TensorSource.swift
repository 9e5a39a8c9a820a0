/// A set of named tensors that can be read: one safetensors file, a sharded checkpoint, or a
/// compressed container. Tools that take "any weights" take a `TensorSource`.
///
/// ```swift
/// let source = try Checkpoint.open("path/to/model")    // a file, an index, or a directory
/// for info in source.tensors { print(info.name) }
/// let t = try source.tensor(named: "pooler.dense.weight")
/// ```
public protocol TensorSource: AnyObject, Sendable {
    /// The path the source was opened from.
    var path: String { get }
    /// File-level metadata, or `nil`.
    var metadata: [String: String]? { get }
    /// Every tensor, in storage order (shard by shard for a sharded checkpoint).
    var tensors: [TensorInfo] { get }
    /// The tensor named exactly `name` (compared by UTF-8 bytes).
    ///
    /// - Throws: `tensorNotFound`, or an error reading the tensor's bytes.
    func tensor(named name: String) throws -> Tensor
    /// Checks that the files behind the source have not changed since it was opened, and that
    /// no read of their mappings met a page the file no longer has (see
    /// ``ByteStorage/checkUnchanged()``). Call it after reading tensors and before trusting
    /// them; Weights' own operations do.
    ///
    /// - Throws: `fileChanged` naming the file.
    func checkUnchanged() throws
}

extension TensorSource {
    /// Sources held in memory cannot change: nothing to check.
    public func checkUnchanged() throws {}
}

extension SafetensorsFile: TensorSource {
    public func checkUnchanged() throws { try storage.checkUnchanged() }
}

/// Opening weights from a path, whatever their layout.
public enum Checkpoint {
    /// Opens `path` as the format its name and contents say:
    /// - a directory holding `model.safetensors.index.json`: that sharded checkpoint;
    /// - a directory holding `model.safetensors`: that file;
    /// - a path ending in `.index.json`: the sharded checkpoint it indexes;
    /// - a file that begins with ``CompressedFormat/magic``: a compressed container;
    /// - any other file: a safetensors file.
    ///
    /// - Throws: ``WeightsError`` naming the path.
    ///
    /// - Parameter mapping: ``SafetensorsFile/Mapping/map`` (the default) maps the files;
    ///   ``SafetensorsFile/Mapping/none`` reads each whole into owned memory.
    public static func open(_ path: String, mapping: SafetensorsFile.Mapping = .map) throws -> any TensorSource {
        if isDirectory(path) {
            let index = path + "/" + ShardedCheckpoint.indexFileName
            if fileExists(index) { return try ShardedCheckpoint(indexPath: index, mapping: mapping) }
            let single = path + "/model.safetensors"
            if fileExists(single) { return try SafetensorsFile(path: single, mapping: mapping) }
            throw WeightsError(.unsupportedFormat,
                "directory has neither \(ShardedCheckpoint.indexFileName) nor model.safetensors", file: path)
        }
        if path.hasSuffix(".index.json") { return try ShardedCheckpoint(indexPath: path, mapping: mapping) }
        let storage = try mapping.storage(path)
        if CompressedFormat.hasMagic(storage.bytes) { return try CompressedFile(storage: storage, path: path) }
        return try SafetensorsFile(storage: storage, path: path)
    }

    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    static func fileExists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
