/// A GGUF file (versions 2 and 3, little-endian), read in place from a memory mapping.
///
/// Opening parses the header, the metadata and the tensor infos and checks every rule of
/// Spec/gguf.md: the magic and version, every count and length against the bytes left
/// before anything is allocated, value and ggml types, dimensions, sizes, and that each
/// tensor lies inside the file where the format puts it: in file order, each at the aligned
/// end of the one before (the rule llama.cpp applies), so none overlaps another. Metadata
/// arrays are checked but not decoded (see ``GGUFArray``). Tensor bytes are not read until
/// asked for, and then not copied (see ``GGUFTensor``).
///
/// Any input, however malformed, gives a ``WeightsError`` naming the file and the key,
/// tensor or byte offset, never a trap: ``init(bytes:path:)`` is the entry point for fuzzing.
///
/// ```swift
/// let file = try GGUFFile(path: "gemma-3-270m-Q4_K_M.gguf")
/// file.metadata["general.architecture"]?.string      // "gemma3"
/// file.tensors.count                                 // 236
/// let norm = try file.tensor(named: "output_norm.weight").dequantized()
/// ```
///
/// To use the file where a ``TensorSource`` is wanted (its tensors decoded to `Float` where
/// safetensors has no dtype for their blocks), wrap it in a ``GGUFTensorSource``;
/// ``Checkpoint/open(_:formats:mapping:)`` does that for files that begin with the GGUF magic.
public final class GGUFFile: Sendable {
    /// The four bytes a GGUF file begins with, `GGUF`.
    public static let magic: [UInt8] = [0x47, 0x47, 0x55, 0x46]
    /// The alignment of the data section and of tensor offsets when `general.alignment` is absent.
    public static let defaultAlignment = 32
    /// The most dimensions a tensor may have (ggml's `GGML_MAX_DIMS`).
    public static let maximumDimensions = 4

    /// The path the file was opened from.
    public let path: String
    /// The mapped (or copied) bytes of the whole file.
    public let storage: ByteStorage
    /// The format version: 2 or 3.
    public let version: UInt32
    /// The alignment of the data section and of every tensor offset: `general.alignment`, or 32.
    public let alignment: Int
    /// Every key/value pair, in file order.
    public let metadata: GGUFMetadata
    /// Every tensor, in the order of the file's tensor infos.
    public let tensors: [GGUFTensorInfo]
    /// Where the data section begins, from the start of the file: the end of the tensor infos,
    /// rounded up to the alignment. A file with no tensors may end before it (gguf-py writes no
    /// padding after a header with no tensor infos); one with tensors holds them all past it.
    public let dataOffset: Int
    private let tensorIndex: [String: Int]

    /// The file's size in bytes.
    public var fileSize: Int { storage.byteCount }

    /// Whether `prefix` begins with the GGUF magic.
    public static func recognizes(_ prefix: UnsafeRawBufferPointer) -> Bool {
        // Safety: reads at most `prefix.count` bytes of the caller's buffer, valid for the call.
        unsafe prefix.starts(with: magic)
    }

    /// Maps and opens the file at `path`.
    ///
    /// - Throws: `io` when the file cannot be mapped, and the errors of ``init(storage:path:)``.
    public convenience init(path: String) throws {
        try self.init(storage: try ByteStorage.map(path: path), path: path)
    }

    /// Opens a copy of `bytes` as a GGUF file named `path` in errors.
    public convenience init(bytes: some Collection<UInt8>, path: String = "<bytes>") throws(WeightsError) {
        try self.init(storage: ByteStorage.copy(of: bytes), path: path)
    }

    /// Opens the GGUF file held in `storage`.
    ///
    /// - Complexity: O(*h*) in the size of the header (metadata and tensor infos); the tensor
    ///   data is not touched.
    /// - Throws: ``WeightsError``: `unsupportedFormat` (magic, version, big-endian, unknown
    ///   ggml type), `invalidHeader` (truncation, lengths and counts beyond the file, UTF-8,
    ///   value types, nesting, duplicate keys), `invalidData` (alignment, dimension count,
    ///   rows that are not whole blocks), `validationOverflow`, `duplicateTensorName`,
    ///   `invalidOffset` (tensor data misaligned, out of order, not packed, or outside the file).
    public convenience init(storage: ByteStorage, path: String) throws(WeightsError) {
        try self.init(storage: storage, path: path, fileSize: storage.byteCount)
    }

    /// Opens a GGUF file of `fileSize` bytes of which `storage` may hold only the beginning,
    /// header and metadata at least: a container that keeps the tensor data elsewhere
    /// (WeightsCompression) checks the placement of the tensors against the whole file's size.
    /// Only the header is read; ``tensor(_:)`` needs the whole file in `storage`.
    package init(storage: ByteStorage, path: String, fileSize: Int) throws(WeightsError) {
        self.path = path
        self.storage = storage
        var reader = GGUFByteReader(bytes: storage.span, path: path)

        guard reader.starts(with: GGUFFile.magic) else {
            let found = Hex.string((0..<min(4, reader.remaining)).map { reader.integer(at: $0, as: UInt8.self) })
            throw WeightsError(.unsupportedFormat, "not a GGUF file: the first bytes are 0x\(found), not the magic 'GGUF'",
                               file: path, offset: 0)
        }
        reader.position = 4
        let version = try reader.load(UInt32.self, "the version")
        switch version {
        case 2, 3: break
        case 1:
            throw WeightsError(.unsupportedFormat, "GGUF version 1 (32-bit counts) is not supported; versions 2 and 3 are",
                               file: path, offset: 4)
        default:
            if (1...3).contains(version.byteSwapped) {
                throw WeightsError(.unsupportedFormat,
                    "a big-endian GGUF file (version \(version.byteSwapped) read byte-swapped); only little-endian files are supported",
                    file: path, offset: 4)
            }
            throw WeightsError(.unsupportedFormat, "GGUF version \(version) is not supported; versions 2 and 3 are",
                               file: path, offset: 4)
        }
        self.version = version
        let tensorCount = try reader.count("the tensor count")
        let keyCountOffset = reader.position
        let keyCount = try reader.count("the metadata key count")

        // Each pair takes at least a key length (8), a value type (4) and a 1-byte value.
        guard keyCount <= reader.remaining / 13 else {
            throw WeightsError(.invalidHeader,
                "the file declares \(keyCount) metadata keys, more than the \(reader.remaining) bytes left can hold",
                file: path, offset: keyCountOffset)
        }
        var entries: [GGUFMetadata.Element] = []
        var keyIndex: [String: Int] = [:]
        entries.reserveCapacity(keyCount)
        keyIndex.reserveCapacity(keyCount)
        for number in 0..<keyCount {
            let keyOffset = reader.position
            let key = try reader.string("metadata key \(number)")
            guard keyIndex[key] == nil else {
                throw WeightsError(.invalidHeader, "metadata key '\(key)' appears twice",
                                   file: path, offset: keyOffset)
            }
            let type = try reader.valueType("key '\(key)'")
            let value = try reader.value(of: type, depth: 0, storage: storage, what: "the value of key '\(key)'")
            keyIndex[key] = entries.count
            entries.append((key, value))
        }
        let metadata = GGUFMetadata(entries: entries, index: keyIndex)
        self.metadata = metadata

        var alignment = GGUFFile.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard case .uint32(let raw) = value else {
                throw WeightsError(.invalidData, "key 'general.alignment' is \(value.type), not UINT32", file: path)
            }
            guard raw != 0, raw & (raw - 1) == 0 else {
                throw WeightsError(.invalidData, "key 'general.alignment' is \(raw), not a power of two", file: path)
            }
            alignment = Int(raw)
        }
        self.alignment = alignment

        // Each tensor info takes at least a name length (8), n_dims (4), one dimension (8),
        // a type (4) and an offset (8).
        guard tensorCount <= reader.remaining / 32 else {
            throw WeightsError(.invalidHeader,
                "the file declares \(tensorCount) tensors, more than the \(reader.remaining) bytes left can hold",
                file: path, offset: 8)
        }
        var infos: [GGUFTensorInfo] = []
        var tensorIndex: [String: Int] = [:]
        infos.reserveCapacity(tensorCount)
        tensorIndex.reserveCapacity(tensorCount)
        for number in 0..<tensorCount {
            let infoOffset = reader.position
            let name = try reader.string("the name of tensor \(number)")
            guard tensorIndex[name] == nil else {
                throw WeightsError(.duplicateTensorName, "tensor '\(name)' appears twice",
                                   file: path, tensor: name, offset: infoOffset)
            }
            let info = try GGUFFile.readTensorInfo(&reader, name: name, path: path)
            tensorIndex[name] = infos.count
            infos.append(info)
        }

        let headerEnd = reader.position
        let (padded, overflow) = headerEnd.addingReportingOverflow(alignment - 1)
        guard !overflow else {
            throw WeightsError(.validationOverflow, "the data section's offset overflows", file: path, offset: headerEnd)
        }
        let dataOffset = padded & ~(alignment - 1)
        self.dataOffset = dataOffset
        try GGUFFile.checkPlacement(infos, dataOffset: dataOffset, alignment: alignment, fileSize: max(fileSize, reader.bytes.byteCount), path: path)
        self.tensors = infos
        self.tensorIndex = tensorIndex
    }

    private static func readTensorInfo(_ reader: inout GGUFByteReader, name: String, path: String) throws(WeightsError) -> GGUFTensorInfo {
        func tagged(_ error: WeightsError) -> WeightsError {
            var error = error
            error.tensor = name
            return error
        }
        do throws(WeightsError) {
            let dimsOffset = reader.position
            let dimensionCount = try reader.load(UInt32.self, "the dimension count of tensor '\(name)'")
            guard dimensionCount >= 1, dimensionCount <= UInt32(maximumDimensions) else {
                throw WeightsError(.invalidData, "tensor '\(name)' has \(dimensionCount) dimensions, not 1 to \(maximumDimensions)",
                                   file: path, tensor: name, offset: dimsOffset)
            }
            var dimensions: [Int] = []
            var elements = 1
            for axis in 0..<Int(dimensionCount) {
                let dimension = try reader.count("dimension \(axis) of tensor '\(name)'")
                dimensions.append(dimension)
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow else {
                    throw WeightsError(.validationOverflow, "the element count of tensor '\(name)' \(dimensions) overflows 64 bits",
                                       file: path, tensor: name, offset: dimsOffset)
                }
                elements = product
            }
            let typeOffset = reader.position
            let rawType = try reader.load(UInt32.self, "the type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw WeightsError(.unsupportedFormat, "tensor '\(name)' has ggml type \(rawType), which this library does not know",
                                   file: path, tensor: name, offset: typeOffset)
            }
            guard dimensions[0] % type.blockSize == 0 else {
                throw WeightsError(.invalidData,
                    "tensor '\(name)' has rows of \(dimensions[0]) elements, not a whole number of \(type) blocks of \(type.blockSize)",
                    file: path, tensor: name, offset: dimsOffset)
            }
            let (byteCount, overflow) = (elements / type.blockSize).multipliedReportingOverflow(by: type.typeSize)
            guard !overflow else {
                throw WeightsError(.validationOverflow, "the byte count of tensor '\(name)' overflows 64 bits",
                                   file: path, tensor: name, offset: dimsOffset)
            }
            let offset = try reader.count("the data offset of tensor '\(name)'")
            return GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: offset,
                                  byteCount: byteCount, elementCount: elements)
        } catch {
            throw tagged(error)
        }
    }

    /// Checks that the tensors lie in file order, packed: each starts at an aligned offset,
    /// where the one before it ends padded to the alignment (the first at 0), and ends
    /// inside the file. This is llama.cpp's rule; it also rules out gaps and overlaps.
    private static func checkPlacement(_ infos: [GGUFTensorInfo], dataOffset: Int, alignment: Int, fileSize: Int,
                                       path: String) throws(WeightsError) {
        let available = fileSize - dataOffset
        var expected = 0
        var previous: GGUFTensorInfo?
        for info in infos {
            guard info.offset % alignment == 0 else {
                throw WeightsError(.invalidOffset, "tensor '\(info.name)' begins at data offset \(info.offset), not a multiple of the alignment \(alignment)",
                                   file: path, tensor: info.name)
            }
            guard info.offset == expected else {
                let after = previous.map { "the tensor before it, '\($0.name)', ends at data offset \($0.offset + $0.byteCount)" }
                    ?? "it is the first tensor"
                throw WeightsError(.invalidOffset,
                    "tensor '\(info.name)' begins at data offset \(info.offset), not \(expected): \(after), and tensors are stored in order, each padded to the alignment \(alignment)",
                    file: path, tensor: info.name)
            }
            guard available >= 0, info.offset <= available, info.byteCount <= available - info.offset else {
                throw WeightsError(.invalidOffset,
                    "tensor '\(info.name)' spans data offsets \(info.offset) + \(info.byteCount) bytes, past the end of the file (data section of \(max(available, 0)) bytes at byte offset \(dataOffset))",
                    file: path, tensor: info.name)
            }
            // In the file, so `offset + byteCount` is below `Int.max`; padding adds under `alignment`.
            let end = info.offset + info.byteCount
            let (padded, overflow) = end.addingReportingOverflow((alignment - end % alignment) % alignment)
            guard !overflow else {
                throw WeightsError(.validationOverflow, "tensor '\(info.name)' ends at a data offset whose padding overflows",
                                   file: path, tensor: info.name)
            }
            expected = padded
            previous = info
        }
    }

    /// The entry of the tensor named `name`, or `nil`.
    public func tensorInfo(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// A zero-copy view of the tensor named `name`.
    ///
    /// - Complexity: O(1) on average.
    /// - Throws: `tensorNotFound`.
    public func tensor(named name: String) throws(WeightsError) -> GGUFTensor {
        guard let info = tensorInfo(named: name) else {
            throw WeightsError(.tensorNotFound, "no tensor named '\(name)'", file: path, tensor: name)
        }
        return tensor(info)
    }

    /// A zero-copy view of the tensor `info` describes, which must be one of ``tensors``.
    ///
    /// - Precondition: `info`'s bytes lie in the file and hold its elements' blocks
    ///   (true of every element of ``tensors``, which opening checked); an entry made up by the
    ///   caller that points outside the file, or claims more elements than its bytes hold, traps.
    public func tensor(_ info: GGUFTensorInfo) -> GGUFTensor {
        let (start, overflow) = dataOffset.addingReportingOverflow(info.offset)
        precondition(!overflow && info.offset >= 0 && info.byteCount >= 0 && info.byteCount <= storage.byteCount - start,
                     "tensor '\(info.name)' does not lie in '\(path)'")
        // The dequantizer reads `elementCount / blockSize` blocks from the view: they must be
        // the view's bytes (a settable `elementCount` larger than the bytes read past them).
        let blockSize = info.type.blockSize
        let blockBytes = (max(info.elementCount, 0) / max(blockSize, 1)).multipliedReportingOverflow(by: info.type.typeSize)
        precondition(info.elementCount >= 0 && blockSize > 0 && info.elementCount % blockSize == 0
                     && !blockBytes.overflow && blockBytes.partialValue <= info.byteCount,
                     "tensor '\(info.name)' claims \(info.elementCount) elements, which its \(info.byteCount) bytes do not hold")
        // Safety: the range was just checked to lie in `storage`, which the view holds.
        return unsafe GGUFTensor(info: info, storage: storage,
                          bytes: UnsafeRawBufferPointer(rebasing: storage.bytes[start..<start + info.byteCount]), path: path)
    }

    /// The number of elements in all tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }
}
