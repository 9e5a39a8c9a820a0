/// Writes any ``TensorSource`` (a safetensors file, a sharded checkpoint, a GGUF file) as a
/// GGUF file, its floating tensors converted to one ggml type.
///
/// The rules (Spec/gguf.md, section 7):
/// - Tensors keep their names and the source's order; a row-major shape becomes GGUF
///   dimensions by reversal (a scalar becomes `[1]`); more than 4 dimensions is refused.
/// - With a `type`, floating tensors of rank 2 or more whose name has no `norm` in it become
///   `type`; tensors of rank 0 or 1 and norms become F32, as llama.cpp keeps them. A row that
///   is not a whole number of `type`'s blocks falls back to Q5_0 (for Q4_K) or Q8_0 (for
///   Q6_K) when it is a whole number of 32, else to F16. Without a `type`, F32, F16, BF16 and
///   F64 tensors keep their type.
/// - I8, I16, I32 and I64 tensors are copied; other dtypes (BOOL, unsigned, complex, F8, F4,
///   F6) are refused, as GGUF has no type for them.
/// - Metadata: when the source holds GGUF metadata (``GGUFMetadata/safetensorsKey``, as
///   `weights convert model.gguf out.safetensors` writes it), every key comes back in its
///   order, but a split set's `split.*` keys. `general.architecture` (given, carried, or `unknown`) and `general.alignment`
///   (given, carried, or 32) are always written, first when new; with a `type`, `general.file_type` says it (llama.cpp's
///   numbering) and, for block formats, `general.quantization_version` is 2.
///
/// ```swift
/// let converter = try GGUFConverter(source: Checkpoint.open("model.safetensors"), type: .q4_K,
///                                   architecture: "llama")
/// converter.tensors.map(\.type)      // [.q4_K, .f32, ...]
/// try converter.write(to: "model-q4_k.gguf")
/// ```
///
/// - Complexity: O(*n*) in the tensor data; memory stays bounded (rows are converted about a
///   million elements at a time).
public struct GGUFConverter {
    public let source: any TensorSource
    /// The type floating tensors become, or `nil` to keep theirs.
    public let type: GGMLType?
    /// The key/value pairs written, in order.
    public let metadata: [GGUFMetadata.Element]
    /// The tensors written, in order, with the type each one gets.
    public let tensors: [GGUFWriter.Tensor]

    /// The types a conversion can target.
    public static let targetTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K, .mxfp4]

    /// Plans the conversion; nothing is read yet.
    ///
    /// - Parameters:
    ///   - source: The tensors to convert, with the metadata to carry.
    ///   - type: One of ``targetTypes``, or `nil`.
    ///   - architecture: `general.architecture`; by default the source's, else `unknown`.
    ///   - alignment: `general.alignment`, a power of two; by default the carried value, else 32.
    /// - Throws: `invalidArgument` for a type or alignment not allowed; `unsupportedFormat`
    ///   naming a tensor GGUF cannot hold; `invalidData` for GGUF metadata that does not decode.
    public init(source: any TensorSource, type: GGMLType?, architecture: String? = nil, alignment: Int? = nil) throws {
        if let type, !GGUFConverter.targetTypes.contains(type) {
            throw WeightsError(.invalidArgument, "cannot convert to \(type); types: \(GGUFConverter.targetTypes.map(\.name).joined(separator: ", "))")
        }
        if let alignment, !(alignment > 0 && alignment & (alignment - 1) == 0 && alignment <= Int(UInt32.max)) {
            throw WeightsError(.invalidArgument, "the alignment \(alignment) is not a power of two")
        }
        self.source = source
        self.type = type
        tensors = try source.tensors.map { info throws(WeightsError) in try GGUFConverter.plan(info, type, path: source.path) }
        metadata = try WeightsError.tagging(file: source.path) {
            try GGUFConverter.metadata(source.metadata, type: type, architecture: architecture, alignment: alignment)
        }
    }

    /// Writes the file at `path`, atomically.
    ///
    /// - Throws: the source's read errors; `invalidData` naming the tensor and element for a
    ///   NaN or infinity that a block format cannot encode; the writer's errors.
    public func write(to path: String, syncToDisk: Bool = true) throws {
        let writer = try GGUFWriter(path: path, metadata: metadata, tensors: tensors, syncToDisk: syncToDisk)
        for (info, planned) in zip(source.tensors, tensors) {
            if planned.type.dtype == info.dtype {
                var given = 0
                // Sound: each piece is written inside the closure it is lent to.
                unsafe try source.streamBytes(ofTensorNamed: info.name) { bytes in
                    given += bytes.count
                    unsafe try writer.write(bytes)
                }
                guard given == info.byteCount else {
                    throw WeightsError(.byteCountMismatch, "tensor '\(info.name)' takes \(info.byteCount) bytes; the source gave \(given)",
                                       file: source.path, tensor: info.name)
                }
            } else {
                try convert(info, to: planned.type, writer)
            }
            try WeightsError.tagging(file: source.path) { try source.checkUnchanged() }
        }
        try writer.finish()
    }

    /// Streams `info`'s values, converted to float32 a chunk of rows at a time, into blocks of `type`.
    private func convert(_ info: TensorInfo, to type: GGMLType, _ writer: GGUFWriter) throws {
        let rowLength = max(info.shape.last ?? 1, 1)
        let rows = info.elementCount / rowLength
        let rowsPerChunk = max(1, (1 << 20) / rowLength)
        var floats = [Float](repeating: 0, count: min(rows, rowsPerChunk) * rowLength)
        var blocks = [UInt8](repeating: 0, count: min(rows, rowsPerChunk) * rowLength / type.blockSize * type.typeSize)
        let read = try rowReader(info)
        var row = 0
        while row < rows {
            let count = min(rowsPerChunk, rows - row)
            let elements = count * rowLength
            let outputBytes = elements / type.blockSize * type.typeSize
            try read(row * rowLength, elements, &floats)
            // Sound: `elements` ≤ `floats.count` and `outputBytes` ≤ `blocks.count` (both sized
            // for the largest chunk); the buffers are used only inside the closures.
            try unsafe floats.withUnsafeBufferPointer { input in
                try unsafe blocks.withUnsafeMutableBytes { output in
                    do throws(WeightsError) {
                        unsafe try GGMLQuantizer.quantize(UnsafeBufferPointer(rebasing: input[0..<elements]), as: type,
                                                          into: UnsafeMutableRawBufferPointer(rebasing: output[0..<outputBytes]),
                                                          file: source.path, tensor: info.name)
                    } catch {
                        // The quantizer counts elements from the chunk's start; say where the chunk starts.
                        throw error.code == .invalidData
                            ? WeightsError(.invalidData, "\(error.reason), counting from row \(row)", file: source.path, tensor: info.name)
                            : error
                    }
                }
            }
            try unsafe blocks.withUnsafeBytes { unsafe try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<outputBytes])) }
            row += count
        }
    }

    /// A function that puts `count` float32 values of `info`, from element `start`, at the
    /// front of its buffer. GGUF blocks are decoded a chunk at a time, so that a quantized
    /// source is never decoded whole; other tensors are read through their mapping.
    private func rowReader(_ info: TensorInfo) throws -> (Int, Int, inout [Float]) throws -> Void {
        let files: [GGUFFile] = (source as? GGUFTensorSource).map { [$0.file] } ?? (source as? GGUFSplitSource)?.files ?? []
        if let file = files.first(where: { $0.tensorInfo(named: info.name) != nil }), let raw = file.tensorInfo(named: info.name),
           raw.type.isQuantized {
            let tensor = file.tensor(raw)
            let blockSize = raw.type.blockSize
            return { start, count, floats in
                // Chunks are whole rows, and rows whole blocks.
                let values = try tensor.dequantized(blocks: start / blockSize..<(start + count) / blockSize)
                floats.replaceSubrange(0..<count, with: values)
            }
        }
        guard let from = FloatFormat(info.dtype) else {
            throw WeightsError(.unsupportedFormat, "tensor '\(info.name)' is \(info.dtype), which cannot be read as floats",
                               file: source.path, tensor: info.name)
        }
        let tensor = try source.tensor(named: info.name)
        let width = from.byteWidth
        return { start, count, floats in
            // Sound: the caller's rows lie in the tensor (start + count ≤ its elements, which its
            // bytes span) and `floats` holds at least `count`; used inside the closures.
            unsafe tensor.withUnsafeBytes { bytes in
                let slice = unsafe UnsafeRawBufferPointer(rebasing: bytes[start * width..<(start + count) * width])
                _ = unsafe floats.withUnsafeMutableBytes { output in
                    unsafe FloatFormat.convert(slice, from: from, to: .f32, into: UnsafeMutableRawBufferPointer(rebasing: output[0..<count * 4]))
                }
            }
        }
    }

    // MARK: Planning

    /// The GGUF tensor `info` becomes.
    static func plan(_ info: TensorInfo, _ target: GGMLType?, path: String) throws(WeightsError) -> GGUFWriter.Tensor {
        guard info.shape.count <= GGUFFile.maximumDimensions else {
            throw WeightsError(.unsupportedFormat, "tensor '\(info.name)' has \(info.shape.count) dimensions; GGUF holds at most \(GGUFFile.maximumDimensions)",
                               file: path, tensor: info.name)
        }
        let shape = info.shape.isEmpty ? [1] : info.shape
        func tensor(_ type: GGMLType) -> GGUFWriter.Tensor { GGUFWriter.Tensor(name: info.name, type: type, shape: shape) }
        switch info.dtype {
        case .i8: return tensor(.i8)
        case .i16: return tensor(.i16)
        case .i32: return tensor(.i32)
        case .i64: return tensor(.i64)
        default: break
        }
        guard let format = FloatFormat(info.dtype), info.dtype.isFloatingPoint else {
            throw WeightsError(.unsupportedFormat, "tensor '\(info.name)' is \(info.dtype), which GGUF has no type for",
                               file: path, tensor: info.name)
        }
        guard let target else {
            switch format {
            case .f32: return tensor(.f32)
            case .f16: return tensor(.f16)
            case .bf16: return tensor(.bf16)
            case .f64: return tensor(.f64)
            default:
                throw WeightsError(.unsupportedFormat, "tensor '\(info.name)' is \(info.dtype), which GGUF has no type for; give a target type",
                                   file: path, tensor: info.name)
            }
        }
        if shape.count < 2 || info.name.contains("norm") { return tensor(.f32) }
        let row = shape.last!
        if row % target.blockSize == 0 { return tensor(target) }
        let fallback: GGMLType = switch target {
        case .q4_K where row % 32 == 0: .q5_0
        case .q6_K where row % 32 == 0: .q8_0
        default: .f16
        }
        return tensor(fallback)
    }

    /// llama.cpp's `general.file_type` for a file mostly of `type` (`LLAMA_FTYPE_*`).
    static func fileType(_ type: GGMLType) -> UInt32? {
        switch type {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q4_1: 3
        case .q8_0: 7
        case .q5_0: 8
        case .q5_1: 9
        case .q4_K: 14   // Q4_K_S: Q4_K throughout
        case .q6_K: 18
        case .bf16: 32
        case .mxfp4: 38
        default: nil
        }
    }

    static func metadata(_ source: [String: String]?, type: GGMLType?, architecture: String?, alignment: Int?) throws -> [GGUFMetadata.Element] {
        var entries: [GGUFMetadata.Element] = []
        if let json = source?[GGUFMetadata.safetensorsKey] { entries = try GGUFMetadata.entries(fromJSON: json) }
        // The output is one file: a split set's shard keys would make readers look for others.
        entries.removeAll { $0.key.hasPrefix("split.") }
        func set(_ key: String, _ value: GGUFValue, at position: Int? = nil) {
            if let index = entries.firstIndex(where: { $0.key == key }) {
                entries[index].value = value
            } else if let position {
                entries.insert((key, value), at: min(position, entries.count))
            } else {
                entries.append((key, value))
            }
        }
        let carried = entries.first { $0.key == "general.architecture" }?.value.string ?? source?["general.architecture"]
        set("general.architecture", .string(architecture ?? carried ?? "unknown"), at: 0)
        if let alignment {
            set("general.alignment", .uint32(UInt32(alignment)), at: 1)
        } else if !entries.contains(where: { $0.key == "general.alignment" }) {
            set("general.alignment", .uint32(UInt32(GGUFFile.defaultAlignment)), at: 1)
        }
        if let type {
            if let fileType = fileType(type) { set("general.file_type", .uint32(fileType)) }
            if type.isQuantized { set("general.quantization_version", .uint32(2)) }
        }
        return entries
    }
}
