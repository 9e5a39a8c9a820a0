/// A safetensors file opened for reading, memory-mapped.
///
/// Opening reads and validates only the header: it costs O(header), whatever the file's size.
/// Tensors are views into the mapping; pages are read from disk when first touched.
///
/// ```swift
/// let file = try SafetensorsFile(path: "model.safetensors")
/// for info in file.tensors { print(info.name, info.dtype, info.shape) }   // data order
/// let bias = try file.tensor(named: "pooler.dense.bias")
/// ```
///
/// Every failure is a ``WeightsError`` naming the file, and the tensor or byte offset.
public final class SafetensorsFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The validated header: metadata and tensors in data order.
    public let header: SafetensorsHeader
    /// The length of the header JSON, padding included (the file's first 8 bytes).
    public let headerLength: Int
    /// The whole file's bytes.
    public let storage: ByteStorage
    private let lookup: NameLookup

    /// How a file's bytes are reached.
    ///
    /// A mapping costs nothing up front and shares the page cache, but its pages are the
    /// file's: if another process truncates the file, reading a page past the new end raises
    /// SIGBUS, which ends the process (unless ``ByteStorage/guardMappedReads()`` is on, when
    /// the page reads as zeros and ``SafetensorsFile/checkUnchanged()`` throws `fileChanged`),
    /// and if it rewrites the file in place, tensors change under you. When files can change
    /// while you hold them, open with `.none`. See `Spec/reading.md`.
    public enum Mapping: Sendable, Hashable {
        /// Map the file read-only; tensors are views into the mapping (the default).
        case map
        /// Read the whole file into owned memory with `pread(2)`, checking that it did not
        /// change while it was read. O(file size) in time and memory; nothing done to the file
        /// afterwards affects the tensors.
        case none

        func storage(_ path: String) throws -> ByteStorage {
            switch self {
            case .map: try ByteStorage.map(path: path)
            case .none: try ByteStorage.read(path: path)
            }
        }
    }

    /// Opens and validates the file at `path`.
    ///
    /// - Throws: ``WeightsError``: `io` when the file can't be read, `fileChanged` when it
    ///   changes while it is read into memory (`.none`), else the first reader rule it breaks
    ///   (see `Spec/safetensors.md`).
    public convenience init(path: String, mapping: Mapping = .map) throws {
        let storage = try mapping.storage(path)
        try self.init(storage: storage, path: path)
    }

    /// Validates safetensors bytes held in `storage`; `path` names them in errors.
    public init(storage: ByteStorage, path: String) throws {
        self.path = path
        self.storage = storage
        do {
            // Sound: `self` holds the storage, and the parse keeps no pointer into it.
            (headerLength, header, lookup) = try WeightsError.tagging(file: path) { unsafe try Self.readHeader(storage.bytes) }
        } catch {
            // A header that reads as invalid because the file was cut under us is a changed file.
            try storage.checkUnchanged()
            throw error
        }
    }

    /// Parses a serialized file held in memory (for example, one received over a network).
    public convenience init(bytes: some Collection<UInt8>, name: String = "<memory>") throws {
        try self.init(storage: .copy(of: bytes), path: name)
    }

    /// The reference reader's checks, in its order.
    static func readHeader(_ bytes: UnsafeRawBufferPointer) throws -> (Int, SafetensorsHeader, NameLookup) {
        guard bytes.count >= 8 else {
            throw WeightsError(.headerTooSmall, "file of \(bytes.count) bytes is too small for the 8-byte header length")
        }
        // Sound: 8 bytes were checked to be there, then `8 + length` (before the slice below).
        let declared = unsafe UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(SafetensorsHeader.maximumLength) else {
            throw WeightsError(.headerTooLarge,
                "header length \(declared) is over the \(SafetensorsHeader.maximumLength)-byte limit", offset: 0)
        }
        let length = Int(declared)
        guard 8 + length <= bytes.count else {
            throw WeightsError(.invalidHeaderLength,
                "header length \(length) runs past the end of the \(bytes.count)-byte file", offset: 0)
        }
        let (header, lookup) = unsafe try SafetensorsHeader.decodeIndexed(UnsafeRawBufferPointer(rebasing: bytes[8..<8 + length]), fileOffset: 8)
        let expected = 8 + length + header.dataSize
        guard expected == bytes.count else {
            throw WeightsError(.metadataIncompleteBuffer,
                "tensors end at byte \(expected), but the file has \(bytes.count) bytes", offset: min(expected, bytes.count))
        }
        return (length, header, lookup)
    }

    /// The metadata, or `nil` when the header has none.
    public var metadata: [String: String]? { header.metadata }
    /// Every tensor's header entry, in data order.
    public var tensors: [TensorInfo] { header.tensors }
    /// The file size in bytes.
    public var fileSize: Int { storage.byteCount }
    /// Where the data section starts in the file.
    public var dataOffset: Int { 8 + headerLength }

    /// Whether a tensor is named exactly `name` (compared by UTF-8 bytes).
    public func contains(_ name: String) -> Bool { lookup.position(of: name, in: header.tensors.lazy.map(\.name)) != nil }

    /// The header entry of the tensor named `name`, or `nil`.
    public func info(named name: String) -> TensorInfo? {
        lookup.position(of: name, in: header.tensors.lazy.map(\.name)).map { header.tensors[$0] }
    }

    /// The tensor named `name`: a view into the mapping.
    ///
    /// - Complexity: O(log *n*) name comparisons, or O(1) expected when the file does not list
    ///   its tensors sorted by name.
    ///
    /// - Throws: `tensorNotFound`.
    public func tensor(named name: String) throws -> Tensor {
        guard let info = info(named: name) else {
            throw WeightsError(.tensorNotFound, "no tensor named '\(name)'", file: path, tensor: name)
        }
        return tensor(info)
    }

    /// The tensor for a header entry of this file.
    ///
    /// - Precondition: `info`'s bytes lie in the file's data section (true of every element of
    ///   ``tensors``, which opening checked); an entry made up by the caller that points outside
    ///   it traps.
    public func tensor(_ info: TensorInfo) -> Tensor {
        let offsets = info.dataOffsets
        precondition(offsets.lowerBound >= 0 && offsets.upperBound <= storage.byteCount - dataOffset,
                     "tensor '\(info.name)' does not lie in '\(path)'")
        let start = dataOffset + offsets.lowerBound
        // Safety: the range was just checked to lie in `storage`, which the tensor holds.
        let bytes = unsafe UnsafeRawBufferPointer(rebasing: storage.bytes[start..<start + info.byteCount])
        return unsafe Tensor(info: info, storage: storage, bytes: bytes)
    }

    /// The tensor named `name`, or `nil`.
    public subscript(name: String) -> Tensor? {
        info(named: name).map(tensor)
    }
}
