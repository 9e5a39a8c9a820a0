/// Writes a safetensors file tensor by tensor, in bounded memory, atomically.
///
/// The header is computed up front from names, dtypes and shapes (``SafetensorsLayout``);
/// then each tensor's bytes are written in the layout's order, in one piece or in chunks. The
/// file appears under its name only when ``finish(replacingMetadata:)`` succeeds.
///
/// ```swift
/// let writer = try SafetensorsWriter(path: "out.safetensors",
///                                    tensors: source.tensors.map(\.descriptor), metadata: nil)
/// while let next = writer.nextTensor {
///     try source.tensor(named: next.name).withUnsafeBytes { try writer.write($0) }
/// }
/// try writer.finish()
/// // or, for a whole source: try source.write(to: "out.safetensors")
/// ```
///
/// For a file the reference wrote (with at most one metadata key), writing the same tensors
/// gives the same bytes.
public final class SafetensorsWriter {
    public let layout: SafetensorsLayout
    private let file: AtomicFile
    private var nextIndex = 0
    private var writtenOfNext = 0

    /// Starts a file at `path` with `layout`'s header.
    ///
    /// - Parameters:
    ///   - path: The file to write; replaced atomically when ``finish(replacingMetadata:)`` succeeds.
    ///   - layout: The header and the order and sizes of the tensors to follow.
    ///   - syncToDisk: See ``AtomicFile/init(path:syncToDisk:)``; on by default.
    public init(path: String, layout: SafetensorsLayout, syncToDisk: Bool = true) throws {
        self.layout = layout
        self.file = try AtomicFile(path: path, syncToDisk: syncToDisk)
        try file.reserve(layout.fileSize)
        try file.write(layout.headerBytes)
        skipEmptyTensors()
    }

    /// Starts a file at `path` for `tensors`, laid out canonically.
    public convenience init(path: String, tensors: [TensorDescriptor], metadata: [String: String]?, syncToDisk: Bool = true) throws {
        let layout = try WeightsError.tagging(file: path) { try SafetensorsLayout(tensors, metadata: metadata) }
        try self.init(path: path, layout: layout, syncToDisk: syncToDisk)
    }

    /// The destination path.
    public var path: String { file.path }

    /// The tensor whose bytes come next, or `nil` when every tensor is written.
    public var nextTensor: TensorInfo? {
        nextIndex < layout.tensors.count ? layout.tensors[nextIndex] : nil
    }

    /// Appends bytes of ``nextTensor``: all of them, or the next chunk.
    ///
    /// - Throws: `byteCountMismatch` when the bytes run past the tensor's end.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let tensor = nextTensor else {
            throw WeightsError(.byteCountMismatch, "\(bytes.count) bytes given after the last tensor", file: path)
        }
        guard writtenOfNext + bytes.count <= tensor.byteCount else {
            throw WeightsError(.byteCountMismatch,
                "tensor '\(tensor.name)' takes \(tensor.byteCount) bytes; \(writtenOfNext + bytes.count) given",
                file: path, tensor: tensor.name)
        }
        unsafe try file.write(bytes)  // Sound: the caller's buffer, copied or written within the call.
        writtenOfNext += bytes.count
        if writtenOfNext == tensor.byteCount {
            nextIndex += 1
            writtenOfNext = 0
            skipEmptyTensors()
        }
    }

    /// Writes all the bytes of the tensor named `name`, which must be ``nextTensor``.
    public func write(_ tensor: Tensor) throws {
        guard let next = nextTensor, next.name.utf8.elementsEqual(tensor.name.utf8), writtenOfNext == 0 else {
            let expected = nextTensor.map { "'\($0.name)'" } ?? "no more tensors"
            throw WeightsError(.invalidArgument, "tensor '\(tensor.name)' given out of order; expected \(expected)",
                               file: path, tensor: tensor.name)
        }
        guard tensor.dtype == next.dtype, tensor.shape == next.shape else {
            throw WeightsError(.byteCountMismatch, "tensor '\(tensor.name)' is \(tensor.dtype) \(tensor.shape), declared \(next.dtype) \(next.shape)",
                               file: path, tensor: tensor.name)
        }
        unsafe try tensor.withUnsafeBytes { unsafe try write($0) }  // Sound: the tensor keeps its bytes alive in the closure.
    }

    /// Writes every tensor still to come, in order, with the bytes `source` streams for the
    /// tensor of the same name.
    ///
    /// - Throws: `tensorNotFound` when `source` lacks one; `byteCountMismatch` when it gives
    ///   the wrong number of bytes; `fileChanged` when a file behind `source` changes while it
    ///   is read (checked after each tensor).
    public func write(from source: any TensorSource) throws {
        while let next = nextTensor {
            let before = file.bytesWritten
            unsafe try source.streamBytes(ofTensorNamed: next.name) { unsafe try write($0) }  // Sound: each chunk is written within its call.
            guard file.bytesWritten - before == next.byteCount else {
                throw WeightsError(.byteCountMismatch,
                    "tensor '\(next.name)' takes \(next.byteCount) bytes; the source gave \(file.bytesWritten - before)",
                    file: source.path, tensor: next.name)
            }
            try WeightsError.tagging(file: source.path) { try source.checkUnchanged() }
        }
        try WeightsError.tagging(file: source.path) { try source.checkUnchanged() }
    }

    /// Checks every tensor was written, then syncs and renames the file into place.
    ///
    /// - Parameter metadata: When given, replaces the metadata the header was written with.
    ///   The new header must be exactly as long as the old one: metadata values computed
    ///   while writing (digests of the bytes written, say) go in a header written first with
    ///   placeholders of the same length.
    /// - Throws: `byteCountMismatch` naming the first tensor still missing bytes;
    ///   `invalidArgument` when the new header's length differs.
    public func finish(replacingMetadata metadata: [String: String]? = nil) throws {
        if let missing = nextTensor {
            throw WeightsError(.byteCountMismatch,
                "tensor '\(missing.name)' has \(writtenOfNext) of its \(missing.byteCount) bytes", file: path, tensor: missing.name)
        }
        if let metadata {
            let replaced = try WeightsError.tagging(file: path) {
                try SafetensorsLayout(layout.tensors.map(\.descriptor), metadata: metadata)
            }
            guard replaced.headerBytes.count == layout.headerBytes.count else {
                throw WeightsError(.invalidArgument,
                    "the new header takes \(replaced.headerBytes.count) bytes, the written one \(layout.headerBytes.count)",
                    file: path)
            }
            try file.overwrite(replaced.headerBytes, at: 0)
        }
        try file.commit()
    }

    private func skipEmptyTensors() {
        while let tensor = nextTensor, tensor.byteCount == 0 { nextIndex += 1 }
    }
}

extension SafetensorsWriter {
    /// Writes `tensors` to a file at `path`, laid out canonically.
    ///
    /// Memory stays bounded: tensors that are views into mapped files are copied to the output
    /// one at a time.
    public static func write(_ tensors: [Tensor], metadata: [String: String]?, to path: String, syncToDisk: Bool = true) throws {
        let writer = try SafetensorsWriter(path: path, tensors: tensors.map(\.descriptor), metadata: metadata, syncToDisk: syncToDisk)
        let byName = Dictionary(tensors.map { (UTF8Key($0.name), $0) }, uniquingKeysWith: { first, _ in first })
        while let next = writer.nextTensor {
            try writer.write(byName[UTF8Key(next.name)]!)
        }
        try writer.finish()
    }


    /// The bytes of a safetensors file holding `tensors`, laid out canonically.
    public static func serialize(_ tensors: [Tensor], metadata: [String: String]?) throws -> [UInt8] {
        let layout = try SafetensorsLayout(tensors.map(\.descriptor), metadata: metadata)
        let byName = Dictionary(tensors.map { (UTF8Key($0.name), $0) }, uniquingKeysWith: { first, _ in first })
        var bytes = layout.headerBytes
        bytes.reserveCapacity(layout.fileSize)
        for info in layout.tensors {
            unsafe byName[UTF8Key(info.name)]!.withUnsafeBytes { unsafe bytes.append(contentsOf: $0) }  // Sound: copied inside the closure.
        }
        return bytes
    }
}
