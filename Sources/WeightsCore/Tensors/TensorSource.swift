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
}

extension SafetensorsFile: TensorSource {}
