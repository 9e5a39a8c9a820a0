import WeightsCore

/// How a GGUF file's bytes divide into a container's parts: the prefix (everything before the
/// first tensor's data: header, metadata, tensor infos, padding), then each tensor in data
/// order with the bytes that follow it up to the next tensor or the end of the file.
///
/// The writer and the reader derive it the same way from the GGUF header, so the container
/// stores no tensor table of its own.
struct GGUFContainerLayout {
    /// The length of the prefix: the data section's offset plus the first tensor's offset (the
    /// whole file when it has no tensors).
    var prefixLength: Int
    /// The tensors in data order: a plain type's dtype and shape, or `U8` and the byte count
    /// for a block type; offsets within the data section.
    var tensors: [TensorInfo]
    /// Per tensor: where its stored bytes begin in the file, and how many there are.
    var placements: [(fileOffset: Int, stored: Int)]
    /// Per tensor: its GGML type.
    var types: [GGMLType]
    /// The scalar and string metadata values, as text (as `GGUFTensorSource` presents them).
    var metadata: [String: String]

    /// The layout of `file`, a GGUF file of `fileSize` bytes.
    ///
    /// - Throws: `unsupportedFormat` when two tensors share bytes (a container stores each
    ///   byte once).
    init(_ file: GGUFFile, fileSize: Int) throws {
        let ordered = file.tensors.sorted { ($0.offset, $0.byteCount) < ($1.offset, $1.byteCount) }
        let dataEnd = fileSize - file.dataOffset
        // Without tensors the prefix is the whole file: the data section's aligned offset may
        // lie past the file's end (a header not padded), and nothing is stored past the end.
        prefixLength = ordered.first.map { file.dataOffset + $0.offset } ?? fileSize
        tensors = []
        placements = []
        types = ordered.map(\.type)
        for (position, tensor) in ordered.enumerated() {
            let end = position + 1 < ordered.count ? ordered[position + 1].offset : dataEnd
            guard end - tensor.offset >= tensor.byteCount else {
                throw WeightsError(.unsupportedFormat, "tensor '\(tensor.name)' shares bytes with the next tensor",
                                   file: file.path, tensor: tensor.name, offset: file.dataOffset + tensor.offset)
            }
            let plain = tensor.type.dtype
            tensors.append(TensorInfo(name: tensor.name, dtype: plain ?? .u8, shape: plain == nil ? [tensor.byteCount] : tensor.shape,
                                      dataOffsets: tensor.offset..<tensor.offset + tensor.byteCount))
            placements.append((file.dataOffset + tensor.offset, end - tensor.offset))
        }
        var metadata: [String: String] = [:]
        for (key, value) in file.metadata where value.type != .array { metadata[key] = value.description }
        self.metadata = metadata
    }

    /// The tensors as a safetensors header, which the container's readers present.
    var header: SafetensorsHeader { SafetensorsHeader(metadata: metadata, tensors: tensors) }
}
