import WeightsCore
import WeightsIntegrity

/// The constants and the index of the compressed weights container (`.wzst`), specified in
/// `Spec/compressed-container.md`.
///
/// A container holds a safetensors file: the original header bytes, verbatim, and every
/// tensor's bytes cut into fixed-size chunks, byte-grouped, and compressed plane by plane into
/// independent, checksummed zstd frames. An index at the end says where every frame is, and
/// holds each tensor's SHA-256.
///
/// ```text
/// prologue  16 bytes   magic "\x89WZST\r\n\x1A", version, flags
/// frames               every tensor's chunks, in data order, each chunk's planes in order
/// index                original header, chunk size, per-tensor records, frame sizes
/// trailer   56 bytes   index offset and length, index SHA-256, magic again
/// ```
public enum CompressedFormat {
    /// The first 8 bytes of a container, and its last 8.
    public static let magic: [UInt8] = [0x89, 0x57, 0x5A, 0x53, 0x54, 0x0D, 0x0A, 0x1A]
    /// The newest format version. The writer gives each container the oldest version that
    /// holds what it uses (``version(source:groupings:)``), so that older readers read it
    /// where they can.
    public static let version: UInt16 = 3
    /// The versions this library reads.
    public static let versions: ClosedRange<UInt16> = 1...version

    /// The version a container of `source` whose tensors use `groupings` is written as: the
    /// newest of the versions that brought them (``firstVersion(of:)``) and its source format
    /// (safetensors: 1, which every reader of this format reads; GGUF: 2). So 3 when a tensor
    /// uses exponent windows, else 1 or 2.
    public static func version(source: CompressedSourceFormat, groupings: some Sequence<ByteGrouping>) -> UInt16 {
        groupings.reduce(source == .safetensors ? 1 : 2) { max($0, firstVersion(of: $1)) }
    }

    /// The oldest version that may use `grouping`.
    static func firstVersion(of grouping: ByteGrouping) -> UInt16 {
        switch grouping {
        case .none, .planes, .exponentPlanes: 1
        case .blockFields: 2
        case .exponentWindow: 3
        }
    }
    /// The largest original prefix (a GGUF file's header and metadata) a container may hold.
    static let maximumPrefixLength = 1 << 30
    /// The file name extension of a container, without the dot.
    public static let fileExtension = "wzst"
    /// The format's name in `weights inspect`.
    public static let name = "weights-compressed"
    /// The chunk size the writer uses unless told otherwise: 1 MiB of tensor bytes.
    public static let defaultChunkSize = 1 << 20
    /// The chunk sizes a container may declare; a chunk size is also a multiple of 8, so that
    /// every chunk holds whole elements.
    public static let chunkSizes: ClosedRange<Int> = 4096...(64 << 20)

    static let prologueSize = 16
    static let trailerSize = 56
    static let tensorRecordSize = 40
    /// A zstd block of at most 128 KiB takes at least 4 bytes (a run-length block), so no frame
    /// can decode to more than this many times its own size. A frame that declares more is
    /// corrupt, whatever it holds.
    static let maximumExpansion = 32768

    /// Whether `bytes` begin with the container's magic.
    public static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Sound: `prefix` clamps to the buffer, which the caller lends for the call.
        unsafe bytes.count >= magic.count && bytes.prefix(magic.count).elementsEqual(magic)
    }
}

/// How one tensor is stored in a container.
public struct CompressedTensorInfo: Sendable, Hashable {
    /// The tensor's entry in the original header. For a GGUF source: a plain type's dtype and
    /// shape, or `U8` and the byte count for a block type; offsets within the data section.
    public var info: TensorInfo
    /// How each chunk's bytes were rearranged before compression.
    public var grouping: ByteGrouping
    /// The element width of the grouping: the number of planes per chunk (1 without grouping).
    public var planeCount: Int
    /// The number of chunks: ``storedByteCount`` over the chunk size, rounded up.
    public var chunkCount: Int
    /// The SHA-256 of the tensor's stored bytes, as 64 lower-case hex digits.
    public var sha256: String
    /// The bytes stored for the tensor: its own; for a GGUF source, also the padding that
    /// follows it up to the next tensor (or the end of the file).
    public var storedByteCount: Int
    /// Where the stored bytes begin in the original file.
    public var fileOffset: Int
    /// The bytes the tensor's frames take in the container.
    public var compressedSize: Int
    /// The position of the tensor's first frame in the index's frame list.
    var firstFrame: Int
    /// Stored bytes per chunk: the container's chunk size, or for `blockFields` the most
    /// whole blocks it holds.
    var chunkBytes: Int
    /// For `blockFields`, the byte widths of the block's fields; else empty.
    var fields: [Int] = []

    /// The width of the elements that `planes`, `exponentPlanes` and `exponentWindow` group:
    /// the plane count, but for exponent windows, which take one plane more (2 bytes: 3
    /// planes; 4 bytes: 5).
    var elementWidth: Int { grouping == .exponentWindow ? planeCount - 1 : planeCount }

    /// The most bytes by which a chunk's planes can exceed the chunk (exponent windows' packing).
    static let planeSlack = 8

    /// The size of each plane of a chunk of `count` bytes. They sum to `count`, but for
    /// exponent windows over a number of elements that 4 does not divide: one byte more.
    func planeSizes(_ count: Int) -> [Int] {
        grouping == .blockFields ? BlockFields.planeSizes(fields: fields, count: count)
            : grouping.planeSizes(byteCount: count, width: elementWidth)
    }

    /// Stored bytes per chunk of a tensor with this grouping and these fields.
    static func chunkBytes(_ chunkSize: Int, grouping: ByteGrouping, fields: [Int]) -> Int {
        guard grouping == .blockFields else { return chunkSize }
        let block = fields.reduce(0, +)
        return chunkSize - chunkSize % block
    }

    public var name: String { info.name }

    /// The tensor's size over its compressed size (1 for an empty tensor).
    public var ratio: Double { compressedSize == 0 ? 1 : Double(info.byteCount) / Double(compressedSize) }
}

/// The decoded index of a container: everything but the frames themselves.
struct CompressedIndex {
    /// The format version the container declares (1, 2 or 3).
    var version: UInt16 = 1
    /// The kind of file the container holds.
    var source: CompressedSourceFormat
    /// The original file's bytes that no tensor holds, before the first tensor: for a
    /// safetensors source, the header JSON, padding included (the 8-byte length before it is
    /// implied); for a GGUF source, the file's bytes up to its first tensor.
    var headerBytes: [UInt8]
    /// The tensors, as a safetensors header (for a GGUF source, one built from its tensors).
    var header: SafetensorsHeader
    /// The original file's size.
    var originalSize: Int
    var chunkSize: Int
    var tensors: [CompressedTensorInfo]
    /// Every frame's byte range in the container, tensor by tensor, chunk by chunk, plane by plane.
    var frames: [Range<Int>]

    /// The raw byte range, within its tensor, of chunk `chunk`.
    func chunkRange(_ chunk: Int, of tensor: CompressedTensorInfo) -> Range<Int> {
        let start = chunk * tensor.chunkBytes
        return start..<min(start + tensor.chunkBytes, tensor.storedByteCount)
    }
}

// MARK: - Encoding

extension CompressedIndex {
    /// The index bytes of format version `version` (at least 2 for a GGUF source): from
    /// version 2 the source format; the original header; the chunk size; a record per
    /// tensor; then every frame's size.
    static func encode(version: UInt16 = 1, source: CompressedSourceFormat = .safetensors, headerBytes: [UInt8], originalSize: Int = 0,
                       chunkSize: Int, tensors: [CompressedTensorInfo], frameSizes: [Int]) throws -> [UInt8] {
        precondition(version >= 2 || source == .safetensors, "a GGUF source needs format version 2")
        var out = ByteWriter()
        if version >= 2 {
            out.append(source.rawValue)
            out.bytes += [UInt8](repeating: 0, count: 7)
        }
        switch source {
        case .safetensors:
            out.append(UInt64(headerBytes.count))
            out.bytes += headerBytes
        case .gguf:
            // Sound: the buffer is the array's, used only inside the closure.
            let frame = unsafe try headerBytes.withUnsafeBytes { unsafe try Zstd.Compressor(.level(9)).compress($0) }
            out.append(UInt64(headerBytes.count))
            out.append(UInt64(frame.count))
            out.bytes += frame
            out.append(UInt64(originalSize))
        }
        out.append(UInt32(chunkSize))
        out.append(UInt32(tensors.count))
        for tensor in tensors {
            out.append(tensor.grouping.rawValue)
            out.append(UInt8(tensor.planeCount))
            out.append(UInt16(0))
            out.append(UInt32(tensor.chunkCount))
            out.bytes += hexToBytes(tensor.sha256)
        }
        for size in frameSizes { out.append(UInt32(size)) }
        return out.bytes
    }

    /// The 16-byte prologue of format version `version`.
    static func prologue(version: UInt16) -> [UInt8] {
        var out = ByteWriter()
        out.bytes += CompressedFormat.magic
        out.append(version)
        out.append(UInt16(0))
        out.append(UInt32(0))
        return out.bytes
    }

    /// The 56-byte trailer for an index at `offset`.
    static func trailer(indexOffset: Int, index: [UInt8]) -> [UInt8] {
        var out = ByteWriter()
        out.append(UInt64(indexOffset))
        out.append(UInt64(index.count))
        unsafe out.bytes += index.withUnsafeBytes { unsafe SHA256Digest.bytes(of: $0) }  // Sound: hashed inside the closure.
        out.bytes += CompressedFormat.magic
        return out.bytes
    }

    private static func hexToBytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).map { $0 <= 0x39 ? $0 - 0x30 : $0 - 0x61 + 10 }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func append<T: FixedWidthInteger>(_ value: T) {
        unsafe withUnsafeBytes(of: value.littleEndian) { unsafe bytes += $0 }  // Sound: copied inside the closure.
    }
}

// MARK: - Decoding

extension CompressedIndex {
    // Sound: `file` is the caller's for the call, and nothing keeps a pointer into it. Every
    // read goes through a `ByteReader` whose range lies in `file` (it checks), or follows the
    // checks above it: `size >= 72` for the magic at `size - 8`, the trailer's placement of
    // the index between the prologue and the trailer for `indexRange`.
    /// Reads and checks the prologue, trailer and index of the container in `file`.
    ///
    /// Every size is checked against the bytes that hold it before anything is allocated
    /// for it; the index is checked against its SHA-256 before it is parsed.
    ///
    /// - Complexity: O(index): the frames are not read.
    /// - Throws: `unsupportedFormat` for another format or version, `corruptData` for a damaged
    ///   or truncated container.
    static func decode(_ file: UnsafeRawBufferPointer) throws -> CompressedIndex {
        let size = file.count
        guard unsafe CompressedFormat.hasMagic(file) else {
            throw WeightsError(.unsupportedFormat, "not a \(CompressedFormat.name) container (no magic)", offset: 0)
        }
        guard size >= CompressedFormat.prologueSize + CompressedFormat.trailerSize else {
            throw corrupt("container of \(size) bytes is truncated: too short for its prologue and trailer", offset: size)
        }
        var prologue = unsafe ByteReader(file, range: 8..<CompressedFormat.prologueSize)
        let version: UInt16 = unsafe try prologue.read(), flags: UInt16 = unsafe try prologue.read(), reserved: UInt32 = unsafe try prologue.read()
        guard CompressedFormat.versions.contains(version) else {
            throw WeightsError(.unsupportedFormat,
                "container version \(version); this reader knows versions \(CompressedFormat.versions.lowerBound) to \(CompressedFormat.versions.upperBound)",
                offset: 8)
        }
        guard flags == 0, reserved == 0 else { throw corrupt("prologue has unknown flags set", offset: 10) }

        let trailerStart = size - CompressedFormat.trailerSize
        guard unsafe file[(size - 8)...].elementsEqual(CompressedFormat.magic) else {
            throw corrupt("container is truncated or damaged: its trailer is missing", offset: size - 8)
        }
        var trailer = unsafe ByteReader(file, range: trailerStart..<size - 8)
        let indexOffset: UInt64 = unsafe try trailer.read(), indexLength: UInt64 = unsafe try trailer.read()
        let digest = unsafe try trailer.bytes(32)
        guard indexOffset >= UInt64(CompressedFormat.prologueSize), indexLength <= UInt64(trailerStart),
              indexOffset == UInt64(trailerStart) - indexLength else {
            throw corrupt("trailer places the index at \(indexOffset)..+\(indexLength), not just before the trailer at \(trailerStart)",
                          offset: trailerStart)
        }
        let indexRange = Int(indexOffset)..<trailerStart
        let indexBytes = unsafe UnsafeRawBufferPointer(rebasing: file[indexRange])
        guard unsafe SHA256Digest.bytes(of: indexBytes).elementsEqual(digest) else {
            throw corrupt("index fails its SHA-256 check", offset: indexRange.lowerBound)
        }
        var index = unsafe try parse(ByteReader(file, range: indexRange), version: version)
        try index.placeFrames(dataEnd: indexRange.lowerBound)
        return index
    }

    // Sound: every read goes through `reader`, which checks each against its range, inside
    // the index's bytes; each count it is given was compared with `reader.remaining` first or
    // is a constant; `headerBytes` is an array, lent only inside its closure.
    private static func parse(_ reader: ByteReader, version: UInt16) throws -> CompressedIndex {
        var reader = unsafe reader
        var source = CompressedSourceFormat.safetensors
        if version >= 2 {
            let code: UInt8 = unsafe try reader.read(), reserved = unsafe try reader.bytes(7)
            guard let known = CompressedSourceFormat(rawValue: code) else {
                throw WeightsError(.unsupportedFormat, "index names source format \(code), which this reader does not know",
                                   offset: unsafe reader.offset - 8)
            }
            guard reserved.allSatisfy({ $0 == 0 }) else { throw corrupt("index has reserved bytes set", offset: unsafe reader.offset - 7) }
            source = known
        }
        let headerBytes: [UInt8], header: SafetensorsHeader, originalSize: Int
        var placements: [(fileOffset: Int, stored: Int)] = []
        var fields: [[Int]?] = []
        switch source {
        case .safetensors:
            let headerLength: UInt64 = unsafe try reader.read()
            guard headerLength <= UInt64(SafetensorsHeader.maximumLength), unsafe headerLength <= UInt64(reader.remaining) else {
                throw corrupt(unsafe "index declares a \(headerLength)-byte header, beyond its \(reader.remaining) bytes", offset: unsafe reader.offset - 8)
            }
            let headerOffset = unsafe reader.offset
            headerBytes = unsafe try reader.bytes(Int(headerLength))
            header = unsafe try headerBytes.withUnsafeBytes { unsafe try SafetensorsHeader.decode($0, fileOffset: headerOffset) }
            originalSize = 8 + headerBytes.count + header.dataSize
            placements = header.tensors.map { (8 + headerBytes.count + $0.dataOffsets.lowerBound, $0.byteCount) }
        case .gguf:
            (headerBytes, originalSize, header, placements, fields) = unsafe try parseGGUFPrefix(&reader)
        }
        let chunkSize = unsafe Int(try reader.read() as UInt32)
        guard CompressedFormat.chunkSizes.contains(chunkSize), chunkSize % 8 == 0 else {
            throw corrupt("index declares chunk size \(chunkSize)", offset: unsafe reader.offset - 4)
        }
        let tensorCount = unsafe Int(try reader.read() as UInt32)
        guard tensorCount == header.tensors.count else {
            throw corrupt("index has \(tensorCount) tensor records for \(header.tensors.count) tensors", offset: unsafe reader.offset - 4)
        }
        guard unsafe tensorCount * CompressedFormat.tensorRecordSize <= reader.remaining else {
            throw corrupt("index is too short for \(tensorCount) tensor records", offset: unsafe reader.offset)
        }
        var tensors: [CompressedTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var frameCount = 0
        for (position, (info, placement)) in zip(header.tensors, placements).enumerated() {
            let blockFields = position < fields.count ? fields[position] : nil
            let tensor = unsafe try parseRecord(&reader, info: info, placement: placement, fields: blockFields,
                                                chunkSize: chunkSize, firstFrame: frameCount, version: version)
            frameCount += tensor.chunkCount * tensor.planeCount
            tensors.append(tensor)
        }
        guard unsafe frameCount * 4 == reader.remaining else {
            throw corrupt(unsafe "index holds \(reader.remaining) bytes of frame sizes for \(frameCount) frames", offset: unsafe reader.offset)
        }
        var frameSizes = [Int]()
        frameSizes.reserveCapacity(frameCount)
        for _ in 0..<frameCount { unsafe frameSizes.append(Int(try reader.read() as UInt32)) }
        // Frame ranges are placed once the data section's end is known; sizes ride along until then.
        return CompressedIndex(version: version, source: source, headerBytes: headerBytes, header: header, originalSize: originalSize,
                               chunkSize: chunkSize, tensors: tensors, frames: frameSizes.map { 0..<$0 })
    }

    // Sound: reads only through `reader` (checked reads).
    private static func parseRecord(_ reader: inout ByteReader, info: TensorInfo, placement: (fileOffset: Int, stored: Int),
                                    fields blockFields: [Int]?, chunkSize: Int, firstFrame: Int,
                                    version: UInt16) throws -> CompressedTensorInfo {
        let recordOffset = unsafe reader.offset
        let groupingCode: UInt8 = unsafe try reader.read(), planeCount = unsafe Int(try reader.read() as UInt8)
        let reserved: UInt16 = unsafe try reader.read(), chunkCount = unsafe Int(try reader.read() as UInt32)
        let digest = unsafe try reader.bytes(32)
        func fail(_ reason: String) -> WeightsError {
            WeightsError(.corruptData, "tensor '\(info.name)': \(reason)", tensor: info.name, offset: recordOffset)
        }
        guard let grouping = ByteGrouping(rawValue: groupingCode), reserved == 0,
              grouping != .blockFields || blockFields != nil else {
            throw fail("unknown byte grouping \(groupingCode)")
        }
        guard version >= CompressedFormat.firstVersion(of: grouping) else {
            throw fail("byte grouping \(groupingCode) (\(grouping)) in a version \(version) container; it came in version \(CompressedFormat.firstVersion(of: grouping))")
        }
        let fields = grouping == .blockFields ? blockFields ?? [] : []
        let chunkBytes = CompressedTensorInfo.chunkBytes(chunkSize, grouping: grouping, fields: fields)
        let stored = placement.stored
        let expectedChunks = stored / chunkBytes + (stored % chunkBytes == 0 ? 0 : 1)
        guard chunkCount == expectedChunks else { throw fail("\(chunkCount) chunks, expected \(expectedChunks)") }
        let validWidth = switch grouping {
        case .none: planeCount == 1
        case .blockFields: planeCount == fields.count + 1
        case .planes, .exponentPlanes: ByteGrouping.widths.contains(planeCount) && stored % planeCount == 0
        case .exponentWindow: ByteGrouping.windowWidths.contains(planeCount - 1) && stored % (planeCount - 1) == 0
        }
        guard validWidth else { throw fail("\(grouping) over \(planeCount)-byte elements of \(stored) stored bytes") }
        return CompressedTensorInfo(info: info, grouping: grouping, planeCount: planeCount, chunkCount: chunkCount,
                                    sha256: Hex.string(digest), storedByteCount: stored, fileOffset: placement.fileOffset,
                                    compressedSize: 0, firstFrame: firstFrame, chunkBytes: chunkBytes, fields: fields)
    }

    /// Lays the frames end to end from the prologue, checks that they fill the data section
    /// exactly, and that no frame claims to expand beyond what zstd can encode.
    private mutating func placeFrames(dataEnd: Int) throws {
        var offset = CompressedFormat.prologueSize
        for position in tensors.indices {
            var tensor = tensors[position]
            for chunk in 0..<tensor.chunkCount {
                let planeSizes = tensor.planeSizes(chunkRange(chunk, of: tensor).count)
                for plane in 0..<tensor.planeCount {
                    let planeBytes = planeSizes[plane]
                    let frame = tensor.firstFrame + chunk * tensor.planeCount + plane
                    let size = frames[frame].count
                    guard size > 0, planeBytes <= size * CompressedFormat.maximumExpansion, size <= dataEnd - offset else {
                        throw WeightsError(.corruptData,
                            "tensor '\(tensor.name)' chunk \(chunk) plane \(plane): frame of \(size) bytes "
                                + "cannot hold \(planeBytes) bytes within the data section ending at \(dataEnd)",
                            tensor: tensor.name, offset: offset)
                    }
                    frames[frame] = offset..<offset + size
                    offset += size
                    tensor.compressedSize += size
                }
            }
            tensors[position] = tensor
        }
        guard offset == dataEnd else {
            throw WeightsError(.corruptData, "the frames end before the index, which starts at \(dataEnd)", offset: offset)
        }
    }

    // Sound: reads only through `reader` (checked reads, `frameLength` compared with what
    // remains first); the decompression reads and writes two arrays inside their closures,
    // and zstd writes at most `prefix.count` bytes.
    /// A GGUF source's prefix (a zstd frame in the index) and original size; its tensors and
    /// their placements, from the GGUF header the prefix holds.
    private static func parseGGUFPrefix(_ reader: inout ByteReader) throws
        -> (prefix: [UInt8], originalSize: Int, header: SafetensorsHeader, placements: [(fileOffset: Int, stored: Int)],
            fields: [[Int]?]) {
        let start = unsafe reader.offset
        let rawLength: UInt64 = unsafe try reader.read(), frameLength: UInt64 = unsafe try reader.read()
        guard rawLength <= UInt64(CompressedFormat.maximumPrefixLength), frameLength > 0, unsafe frameLength <= UInt64(reader.remaining),
              rawLength <= frameLength * UInt64(CompressedFormat.maximumExpansion) else {
            throw corrupt("index declares a \(rawLength)-byte GGUF header in a \(frameLength)-byte frame", offset: start)
        }
        let frame = unsafe try reader.bytes(Int(frameLength))
        var prefix = [UInt8](repeating: 0, count: Int(rawLength))
        do {
            let decompressor = try Zstd.Decompressor()
            unsafe try frame.withUnsafeBytes { frame in
                unsafe try prefix.withUnsafeMutableBytes { unsafe try decompressor.decompress(frame, into: $0) }
            }
        } catch {
            throw corrupt("the GGUF header's frame is damaged: \(error)", offset: start + 16)
        }
        let size: UInt64 = unsafe try reader.read()
        guard size >= rawLength, size <= UInt64(Int.max / 2) else {
            throw corrupt("index declares an original size of \(size) bytes, less than its \(rawLength)-byte header", offset: unsafe reader.offset - 8)
        }
        let layout: GGUFContainerLayout
        do {
            let gguf = try GGUFFile(storage: ByteStorage.copy(of: prefix), path: "", fileSize: Int(size))
            layout = try GGUFContainerLayout(gguf, fileSize: Int(size))
        } catch var error as WeightsError {
            error.file = nil  // the container's path goes in as the error leaves the index
            throw error
        }
        guard layout.prefixLength == prefix.count else {
            throw corrupt("the GGUF header's first tensor begins at \(layout.prefixLength), not after the \(prefix.count)-byte header",
                          offset: start)
        }
        return (prefix, Int(size), layout.header, layout.placements, layout.types.map(BlockFields.fields(for:)))
    }

    private static func corrupt(_ reason: String, offset: Int) -> WeightsError {
        WeightsError(.corruptData, reason, offset: offset)
    }
}

/// Little-endian reads from a byte range that fail, rather than trap, past its end.
@unsafe  // Unsafe: reads through a pointer it does not own; valid only inside the scope that lends the bytes.
struct ByteReader {
    private let file: UnsafeRawBufferPointer
    private(set) var offset: Int
    private let end: Int

    init(_ file: UnsafeRawBufferPointer, range: Range<Int>) {
        // Checked once, so that every read below, checked against `end`, lies in `file`.
        precondition(range.lowerBound >= 0 && range.upperBound <= file.count, "ByteReader range outside its bytes")
        // Sound: copies the caller's pointer and bounds; the type is `@unsafe` for the pointer's lifetime.
        unsafe self.file = unsafe file
        unsafe offset = range.lowerBound
        unsafe end = range.upperBound
    }

    var remaining: Int { unsafe end - offset }  // Sound: reads two integers.

    // Sound: `offset..<offset + size` lies in `offset..<end`, inside `file` (init); every bit
    // pattern is a valid integer.
    mutating func read<T: FixedWidthInteger>(_ type: T.Type = T.self) throws -> T {
        let size = MemoryLayout<T>.size
        guard unsafe size <= remaining else { throw unsafe truncated(size) }
        defer { unsafe offset += size }
        return unsafe T(littleEndian: file.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    // Sound: as `read`; a negative count would slice backwards, so it traps.
    mutating func bytes(_ count: Int) throws -> [UInt8] {
        precondition(count >= 0, "a negative byte count")
        guard unsafe count <= remaining else { throw unsafe truncated(count) }
        defer { unsafe offset += count }
        return unsafe Array(file[offset..<offset + count])
    }

    private func truncated(_ count: Int) -> WeightsError {
        WeightsError(.corruptData, "index ends before the \(count) bytes it needs", offset: unsafe offset)  // Sound: reads an integer.
    }
}
