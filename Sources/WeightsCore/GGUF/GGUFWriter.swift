/// Writes a GGUF file (version 3, little-endian) tensor by tensor, in bounded memory,
/// atomically.
///
/// The layout is fixed by the metadata and the tensor declarations given up front: the
/// header (magic, version, counts), every key/value pair in the order given, every tensor
/// info in the order given with offsets that run through the data section, each tensor's
/// size padded to the alignment; zero bytes up to the alignment; then each tensor's bytes,
/// each followed by zero bytes up to the alignment (the last one too). This is the layout
/// gguf-py's `GGUFWriter` produces, so the same metadata and tensors in the same order give
/// the same bytes (Spec/gguf.md, section 5).
///
/// The alignment is `general.alignment` when the metadata holds it (a `UINT32` power of two),
/// else 32. Nothing is added to the metadata: gguf-py always writes `general.architecture`
/// first; pass it first to match.
///
/// The header is written when the writer is made, one pair at a time (a metadata array read
/// from another file is copied straight from its mapping), then tensor bytes are appended in
/// declaration order, whole or in chunks. The file appears under `path` only when
/// ``finish()`` succeeds.
///
/// ```swift
/// let writer = try GGUFWriter(path: "out.gguf",
///     metadata: [("general.architecture", .string("llama")), ("general.alignment", .uint32(32))],
///     tensors: [.init(name: "w", type: .q8_0, shape: [4, 64])])
/// while let next = writer.nextTensor {
///     try writer.write(blocks(for: next.name))     // next.byteCount bytes, in one or more calls
/// }
/// try writer.finish()
/// ```
///
/// - Complexity: O(*h* + *n*) time in the header and data written; memory O(1) beyond the
///   declarations and a 1 MiB write buffer.
public final class GGUFWriter {
    /// A tensor to declare: name, ggml type, dimensions fastest-varying first.
    public struct Tensor: Sendable, Hashable {
        public var name: String
        public var type: GGMLType
        /// The dimensions as GGUF stores them, fastest-varying first (ggml's `ne`).
        public var dimensions: [Int]

        /// A tensor with `dimensions` in GGUF's order, fastest-varying first.
        public init(name: String, type: GGMLType, dimensions: [Int]) {
            self.name = name
            self.type = type
            self.dimensions = dimensions
        }

        /// A tensor with a row-major `shape` (slowest first, as safetensors says it): the
        /// dimensions are `shape` reversed.
        public init(name: String, type: GGMLType, shape: [Int]) {
            self.init(name: name, type: type, dimensions: shape.reversed())
        }
    }

    /// The version written: 3.
    public static let version: UInt32 = 3

    /// The destination path.
    public var path: String { file.path }
    /// The alignment of the data section and of each tensor: `general.alignment` or 32.
    public let alignment: Int
    /// Every tensor in the order written, with its offset in the data section.
    public let tensors: [GGUFTensorInfo]
    /// Where the data section begins, from the start of the file.
    public let dataOffset: Int
    /// The size of the finished file.
    public let fileSize: Int

    private let file: AtomicFile
    private var nextIndex = 0
    private var writtenOfNext = 0

    /// Checks the declarations, creates the temporary file beside `path` and writes the
    /// header, the metadata, the tensor infos and the padding before the data section.
    ///
    /// - Parameters:
    ///   - path: The file to write; replaced atomically when the writer finishes.
    ///   - metadata: Key/value pairs, written in this order. ``GGUFMetadata`` of an open file
    ///     can be passed as it is.
    ///   - tensors: The tensors, written in this order.
    ///   - syncToDisk: See ``AtomicFile/init(path:syncToDisk:)``.
    /// - Throws: `invalidArgument` for a key given twice, a `general.alignment` that is not a
    ///   `UINT32` power of two, a tensor with other than 1 to 4 dimensions, a negative
    ///   dimension or rows that are not whole blocks of its type; `duplicateTensorName`;
    ///   `validationOverflow` for sizes beyond 63 bits; `io` when the file cannot be written.
    public init(path: String, metadata: some Sequence<GGUFMetadata.Element>, tensors: [Tensor],
                syncToDisk: Bool = true) throws {
        let pairs = Array(metadata)
        var keys = Set<String>()
        var alignment = GGUFFile.defaultAlignment
        for (key, value) in pairs {
            guard keys.insert(key).inserted else {
                throw WeightsError(.invalidArgument, "metadata key '\(key)' is given twice", file: path)
            }
            if key == "general.alignment" {
                guard case .uint32(let raw) = value, raw != 0, raw & (raw - 1) == 0 else {
                    throw WeightsError(.invalidArgument,
                        "key 'general.alignment' must be a UINT32 power of two, not \(value.type) \(value)", file: path)
                }
                alignment = Int(raw)
            }
        }
        self.alignment = alignment

        var headerSize = 24
        for (key, value) in pairs { headerSize += 8 + key.utf8.count + 4 + value.encodedSize }
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(tensors.count)
        var names = Set<String>()
        var offset = 0
        for tensor in tensors {
            guard names.insert(tensor.name).inserted else {
                throw WeightsError(.duplicateTensorName, "tensor '\(tensor.name)' is declared twice", file: path, tensor: tensor.name)
            }
            let info = try GGUFWriter.info(for: tensor, offset: offset, path: path)
            let (padded, overflow) = GGUFWriter.padded(info.byteCount, to: alignment)
            guard !overflow, offset <= Int.max - padded else {
                throw WeightsError(.validationOverflow, "the data section overflows 63 bits at tensor '\(tensor.name)'",
                                   file: path, tensor: tensor.name)
            }
            offset += padded
            infos.append(info)
            headerSize += 8 + tensor.name.utf8.count + 4 + 8 * tensor.dimensions.count + 4 + 8
        }
        self.tensors = infos
        let (dataOffset, overflow) = GGUFWriter.padded(headerSize, to: alignment)
        guard !overflow, dataOffset <= Int.max - offset else {
            throw WeightsError(.validationOverflow, "the file's size overflows 63 bits", file: path)
        }
        self.dataOffset = dataOffset
        self.fileSize = dataOffset + offset

        file = try AtomicFile(path: path, syncToDisk: syncToDisk)
        try file.reserve(fileSize)
        try writeHeader(pairs)
        guard file.bytesWritten == headerSize else {
            throw WeightsError(.invalidArgument, "the header took \(file.bytesWritten) bytes, \(headerSize) were planned", file: path)
        }
        try writePadding(dataOffset - headerSize)
        skipEmptyTensors()
    }

    /// The tensor whose bytes come next, or `nil` when every tensor is written.
    public var nextTensor: GGUFTensorInfo? {
        nextIndex < tensors.count ? tensors[nextIndex] : nil
    }

    /// Appends bytes of ``nextTensor``: all of them, or the next chunk. After its last byte,
    /// the padding to the alignment follows.
    ///
    /// - Complexity: O(*n*) in the bytes.
    /// - Throws: `byteCountMismatch` when the bytes run past the tensor's end, or come after
    ///   the last tensor.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let tensor = nextTensor else {
            throw WeightsError(.byteCountMismatch, "\(bytes.count) bytes given after the last tensor", file: path)
        }
        guard bytes.count <= tensor.byteCount - writtenOfNext else {
            throw WeightsError(.byteCountMismatch,
                "tensor '\(tensor.name)' (\(tensor.type) \(tensor.dimensions)) takes \(tensor.byteCount) bytes; \(writtenOfNext + bytes.count) given",
                file: path, tensor: tensor.name)
        }
        unsafe try file.write(bytes)  // Sound: the caller's buffer, valid for the call.
        writtenOfNext += bytes.count
        if writtenOfNext == tensor.byteCount {
            try writePadding(GGUFWriter.padded(tensor.byteCount, to: alignment).0 - tensor.byteCount)
            nextIndex += 1
            writtenOfNext = 0
            skipEmptyTensors()
        }
    }

    /// Appends bytes of ``nextTensor``.
    public func write(_ bytes: [UInt8]) throws {
        unsafe try bytes.withUnsafeBytes { unsafe try write($0) }  // Sound: written inside the closure.
    }

    /// Checks that every tensor was written, then syncs and renames the file into place.
    ///
    /// - Throws: `byteCountMismatch` naming the first tensor still missing bytes.
    public func finish() throws {
        if let missing = nextTensor {
            throw WeightsError(.byteCountMismatch,
                "tensor '\(missing.name)' has \(writtenOfNext) of its \(missing.byteCount) bytes", file: path, tensor: missing.name)
        }
        guard file.bytesWritten == fileSize else {
            throw WeightsError(.byteCountMismatch, "\(file.bytesWritten) bytes were written, \(fileSize) planned", file: path)
        }
        try file.commit()
    }

    // MARK: Layout

    private static func info(for tensor: Tensor, offset: Int, path: String) throws(WeightsError) -> GGUFTensorInfo {
        let name = tensor.name, type = tensor.type, dimensions = tensor.dimensions
        guard (1...GGUFFile.maximumDimensions).contains(dimensions.count) else {
            throw WeightsError(.invalidArgument, "tensor '\(name)' has \(dimensions.count) dimensions, not 1 to \(GGUFFile.maximumDimensions)",
                               file: path, tensor: name)
        }
        guard dimensions.allSatisfy({ $0 >= 0 }) else {
            throw WeightsError(.invalidArgument, "tensor '\(name)' has a negative dimension in \(dimensions)", file: path, tensor: name)
        }
        guard dimensions[0] % type.blockSize == 0 else {
            throw WeightsError(.invalidArgument,
                "tensor '\(name)' has rows of \(dimensions[0]) elements, not a whole number of \(type) blocks of \(type.blockSize)",
                file: path, tensor: name)
        }
        var elements = 1
        for dimension in dimensions {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw WeightsError(.validationOverflow, "the element count of tensor '\(name)' \(dimensions) overflows 64 bits",
                                   file: path, tensor: name)
            }
            elements = product
        }
        let (byteCount, overflow) = (elements / type.blockSize).multipliedReportingOverflow(by: type.typeSize)
        guard !overflow else {
            throw WeightsError(.validationOverflow, "the byte count of tensor '\(name)' overflows 64 bits", file: path, tensor: name)
        }
        return GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: offset, byteCount: byteCount,
                              elementCount: elements)
    }

    /// `count` rounded up to a multiple of `alignment` (a power of two), and whether that overflowed.
    static func padded(_ count: Int, to alignment: Int) -> (Int, Bool) {
        let (sum, overflow) = count.addingReportingOverflow(alignment - 1)
        return (sum & ~(alignment - 1), overflow)
    }

    // MARK: Writing

    private func writeHeader(_ pairs: [GGUFMetadata.Element]) throws {
        var bytes: [UInt8] = GGUFFile.magic
        GGUFValue.append(GGUFWriter.version, to: &bytes)
        GGUFValue.append(UInt64(tensors.count), to: &bytes)
        GGUFValue.append(UInt64(pairs.count), to: &bytes)
        for (key, value) in pairs {
            GGUFValue.appendString(key, to: &bytes)
            GGUFValue.append(value.type.rawValue, to: &bytes)
            if case .array(let array) = value {
                // An array can be large (a vocabulary): its items go from their storage to the file.
                GGUFValue.append(array.elementType.rawValue, to: &bytes)
                GGUFValue.append(UInt64(array.count), to: &bytes)
                try file.write(bytes)
                bytes.removeAll(keepingCapacity: true)
                unsafe try array.withUnsafeElementBytes { unsafe try file.write($0) }  // Sound: written inside the closure.
            } else {
                value.encode(into: &bytes)
            }
            if bytes.count >= 1 << 16 {
                try file.write(bytes)
                bytes.removeAll(keepingCapacity: true)
            }
        }
        for info in tensors {
            GGUFValue.appendString(info.name, to: &bytes)
            GGUFValue.append(UInt32(info.dimensions.count), to: &bytes)
            for dimension in info.dimensions { GGUFValue.append(UInt64(dimension), to: &bytes) }
            GGUFValue.append(info.type.rawValue, to: &bytes)
            GGUFValue.append(UInt64(info.offset), to: &bytes)
            if bytes.count >= 1 << 16 {
                try file.write(bytes)
                bytes.removeAll(keepingCapacity: true)
            }
        }
        try file.write(bytes)
    }

    private func writePadding(_ count: Int) throws {
        guard count > 0 else { return }
        try file.write([UInt8](repeating: 0, count: count))
    }

    private func skipEmptyTensors() {
        while let tensor = nextTensor, tensor.byteCount == 0 { nextIndex += 1 }
    }
}
