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
    /// Hands the bytes of the tensor named `name` to `body` in order, whole or in chunks, so
    /// that a writer can copy a tensor without holding all of it. The default hands over
    /// ``tensor(named:)``'s bytes in one piece; a source that produces its bytes (a
    /// conversion, say) streams them in bounded memory.
    ///
    /// - Throws: `tensorNotFound`, the source's read errors, and whatever `body` throws.
    func streamBytes(ofTensorNamed name: String, into body: (UnsafeRawBufferPointer) throws -> Void) throws
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

    public func streamBytes(ofTensorNamed name: String, into body: (UnsafeRawBufferPointer) throws -> Void) throws {
        unsafe try tensor(named: name).withUnsafeBytes { unsafe try body($0) }  // Sound: the tensor keeps its bytes alive in the closure.
    }

    /// Writes every tensor of the source to a safetensors file at `path`, laid out
    /// canonically, atomically, in bounded memory.
    ///
    /// ```swift
    /// try Checkpoint.open("sharded/").write(to: "one.safetensors")
    /// ```
    ///
    /// - Parameters:
    ///   - path: The file to write; replaced atomically if it exists.
    ///   - metadata: The file's metadata; the source's by default.
    ///   - syncToDisk: See ``AtomicFile/init(path:syncToDisk:)``.
    /// - Complexity: O(*n*) in the total size; memory O(1) beyond what the source needs.
    public func write(to path: String, metadata: [String: String]?? = .none, syncToDisk: Bool = true) throws {
        let writer = try SafetensorsWriter(path: path, tensors: tensors.map(\.descriptor),
                                           metadata: metadata ?? self.metadata, syncToDisk: syncToDisk)
        try writer.write(from: self)
        try writer.finish()
    }
}

extension SafetensorsFile: TensorSource {
    public func checkUnchanged() throws { try storage.checkUnchanged() }
}
