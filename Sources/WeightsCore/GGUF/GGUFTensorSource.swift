/// A GGUF file seen as a ``TensorSource``, so that tools written for safetensors (`hash
/// --tensors`, `diff`, `convert`) take GGUF files too.
///
/// Tensors of a plain type with a safetensors dtype (F32, F16, BF16, F64, I8, I16, I32, I64)
/// are presented as they are, zero-copy. Tensors in a block format are presented as F32,
/// decoded by ``GGUFTensor/dequantized(blocks:kernel:)`` when read (block formats that are not
/// decoded throw `unsupportedFormat` then). Shapes are row-major (``GGUFTensorInfo/shape``),
/// and `dataOffsets` count through the presented bytes in file order, as if the tensors
/// were written one after another; ``metadata`` gives each scalar and string value as text
/// and leaves arrays out. For the file's own view, typed metadata and raw blocks, use ``file``.
///
/// ```swift
/// let source = try Checkpoint.open("model.gguf")          // a GGUFTensorSource
/// let weight = try source.tensor(named: "blk.0.attn_q.weight")
/// weight.dtype                                            // .f32 (decoded from Q5_0)
/// ```
public final class GGUFTensorSource: TensorSource {
    /// The file.
    public let file: GGUFFile
    public let tensors: [TensorInfo]
    public let metadata: [String: String]?
    private let index: [String: Int]

    public var path: String { file.path }

    /// The file seen as a source; ``metadata`` holds each scalar and string value as text.
    public convenience init(_ file: GGUFFile) {
        self.init(file, metadata: GGUFTensorSource.textMetadata(file))
    }

    /// The file seen as a source whose ``metadata`` also holds the whole typed metadata,
    /// arrays included, as JSON under ``GGUFMetadata/safetensorsKey`` (`gguf.metadata`; see
    /// ``GGUFMetadata/json()``): what `weights convert model.gguf out.safetensors` writes, so
    /// that converting back to GGUF restores every key.
    ///
    /// - Complexity: O(*h*) in the metadata (a 262,144-token vocabulary is about 5 MB of JSON).
    /// - Throws: the decoding errors of ``GGUFMetadata/json()``, naming the file.
    public convenience init(_ file: GGUFFile, keepingTypedMetadata: Bool) throws {
        var metadata = GGUFTensorSource.textMetadata(file)
        if keepingTypedMetadata {
            metadata[GGUFMetadata.safetensorsKey] = try WeightsError.tagging(file: file.path) { try file.metadata.json() }
        }
        self.init(file, metadata: metadata)
    }

    private static func textMetadata(_ file: GGUFFile) -> [String: String] {
        var metadata: [String: String] = [:]
        for (key, value) in file.metadata where value.type != .array { metadata[key] = value.description }
        return metadata
    }

    private init(_ file: GGUFFile, metadata: [String: String]) {
        self.file = file
        var infos: [TensorInfo] = []
        var index: [String: Int] = [:]
        var offset = 0
        for info in file.tensors {
            let dtype = info.type.dtype ?? .f32
            let size = info.type.dtype == nil ? info.elementCount * 4 : info.byteCount
            index[info.name] = infos.count
            infos.append(TensorInfo(name: info.name, dtype: dtype, shape: info.shape, dataOffsets: offset..<offset + size))
            offset += size
        }
        tensors = infos
        self.index = index
        self.metadata = metadata
    }

    /// Where the tensor named `name` is in ``tensors`` and the file's list.
    ///
    /// - Throws: `tensorNotFound`.
    private func position(of name: String) throws -> Int {
        guard let position = index[name] else {
            throw WeightsError(.tensorNotFound, "no tensor named '\(name)'", file: path, tensor: name)
        }
        return position
    }

    /// The tensor named `name`: the file's bytes for plain types, decoded F32 for block formats.
    ///
    /// - Complexity: O(1) for plain types; O(*n*) and an allocation for block formats.
    public func tensor(named name: String) throws -> Tensor {
        let position = try position(of: name)
        let raw = file.tensor(file.tensors[position])
        let info = tensors[position]
        if raw.type.dtype != nil {
            // Sound: the new tensor holds the storage the bytes lie in, so they outlive the closure.
            return unsafe raw.withUnsafeBytes { unsafe Tensor(info: info, storage: raw.storage, bytes: $0) }
        }
        // Sound: the allocation is the tensor's elements as F32 (its entry's byte count), which
        // `dequantize` fills exactly (it checks the count), and the tensor holds its storage.
        let storage = unsafe try ByteStorage.allocate(count: info.byteCount, zeroed: false) { buffer in
            unsafe try raw.dequantize(into: buffer.bindMemory(to: Float.self))
        }
        return unsafe Tensor(info: info, storage: storage, bytes: storage.bytes)
    }
}

extension GGUFTensorSource: CheckpointFormat {
    public static func recognizes(_ prefix: UnsafeRawBufferPointer) -> Bool { unsafe GGUFFile.recognizes(prefix) }  // Sound: reads the caller's buffer.

    /// Opens the file; a shard of a split set (`split.count` over 1) opens the whole set as a
    /// ``GGUFSplitSource``.
    public static func open(storage: ByteStorage, path: String) throws -> any TensorSource {
        let file = try GGUFFile(storage: storage, path: path)
        if let count = file.metadata["split.count"]?.int, count > 1 { return try GGUFSplitSource(containing: file) }
        return GGUFTensorSource(file)
    }
}

extension GGUFTensorSource: StoredTensorSource {
    /// The ggml type of each tensor (`F32`, `Q4_K`, …), in ``tensors`` order.
    public var storedTypeNames: [String] { file.tensors.map(\.type.name) }

    /// The tensor's bytes as the file stores them: its blocks, for a block format.
    public func withStoredBytes<R>(ofTensorNamed name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let position = try position(of: name)
        // Sound: the view holds the mapping, and the buffer is used only inside the call.
        return unsafe try file.tensor(file.tensors[position]).withUnsafeBytes { unsafe try body($0) }
    }
}
