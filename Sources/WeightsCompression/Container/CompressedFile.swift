import WeightsCore
import WeightsIntegrity

import WeightsPlatform

/// A compressed weights container opened for reading, memory-mapped.
///
/// Opening reads and checks only the prologue, trailer and index: O(header), whatever the
/// file's size. Reading a tensor decompresses that tensor's chunks alone, on all cores, into
/// owned 64-byte-aligned storage; every chunk's checksum is checked on the way. It reads like a
/// `SafetensorsFile` through `TensorSource`, and `Checkpoint/open(_:)` recognizes it.
///
/// ```swift
/// let file = try CompressedFile(path: "model.wzst")
/// let bias = try file.tensor(named: "pooler.dense.bias")       // decompresses this tensor only
/// try file.decompress(to: "model.safetensors")                  // the original, byte for byte
/// ```
///
/// Every failure is a `WeightsError` naming the file, and the tensor and byte offset where
/// they are known. Damage anywhere is reported, never returned as data.
public final class CompressedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The container's bytes.
    public let storage: ByteStorage
    /// The original file's header: its metadata and tensors in data order. For a GGUF source,
    /// a header built from the GGUF file's tensors (see ``CompressedTensorInfo/info``) and its
    /// scalar metadata as text.
    public let header: SafetensorsHeader
    /// The kind of file the container holds.
    public var sourceFormat: CompressedSourceFormat { index.source }
    /// The container's format version (`Spec/compressed-container.md`, section 5): 3 when a
    /// tensor uses exponent windows, else 1 for a safetensors source and 2 for a GGUF one.
    public var formatVersion: Int { Int(index.version) }
    /// How each tensor is stored, in data order.
    public let compressedTensors: [CompressedTensorInfo]
    /// Tensor bytes per chunk.
    public let chunkSize: Int
    /// The threads that decompress a tensor's chunks.
    public var threads: Int
    private let index: CompressedIndex
    private let positions: [UTF8Key: Int]
    /// Decompressors left by earlier reads: a model loads a hundred tensors one by one, and a
    /// fresh context and scratch buffer each time cost more in page faults than the decoding.
    private let spareDecompressors = SpareDecompressors()
    /// Where tensors are decompressed to: huge-page chunks shared by the mid-sized ones.
    private let arena = ByteArena()

    /// Opens and checks the container at `path`.
    ///
    /// - Throws: `WeightsError`: `io` when the file can't be read, `unsupportedFormat` when
    ///   it is not a container of a version this library reads, `corruptData` when it is
    ///   damaged or truncated, or an error of the original header.
    public convenience init(path: String, threads: Int = ParallelChunks.availableCores) throws {
        try self.init(storage: try ByteStorage.map(path: path), path: path, threads: threads)
    }

    /// Checks the container held in `storage`; `path` names it in errors.
    public init(storage: ByteStorage, path: String, threads: Int = ParallelChunks.availableCores) throws {
        self.path = path
        self.storage = storage
        self.threads = max(1, threads)
        do {
            // Sound: `storage`, a parameter, lives through the call; decode keeps no pointer.
            index = try WeightsError.tagging(file: path) { unsafe try CompressedIndex.decode(storage.bytes) }
        } catch {
            // An index that reads as damaged because the file was cut under us is a changed file.
            try storage.checkUnchanged()
            throw error
        }
        header = index.header
        compressedTensors = index.tensors
        chunkSize = index.chunkSize
        var positions = [UTF8Key: Int](minimumCapacity: index.tensors.count)
        for (position, tensor) in index.tensors.enumerated() { positions[UTF8Key(tensor.name)] = position }
        self.positions = positions
    }

    /// The metadata of the original file, or `nil`.
    public var metadata: [String: String]? { header.metadata }
    /// Every tensor's header entry, in data order.
    public var tensors: [TensorInfo] { header.tensors }
    /// The container's size in bytes.
    public var fileSize: Int { unsafe storage.bytes.count }  // Sound: reads the count only.
    /// The length of the original header: the JSON, padding included (safetensors), or every
    /// byte before the first tensor (GGUF).
    public var headerLength: Int { index.headerBytes.count }
    /// The size of the original file.
    public var originalSize: Int { index.originalSize }

    /// How the tensor named `name` is stored, or `nil`.
    public func compressedInfo(named name: String) -> CompressedTensorInfo? {
        positions[UTF8Key(name)].map { compressedTensors[$0] }
    }

    /// The tensor named `name`, decompressed into owned, aligned storage.
    ///
    /// - Complexity: O(tensor size) over ``threads`` threads; only this tensor's chunks are read.
    /// - Throws: `tensorNotFound`; `corruptData` naming the tensor when a chunk is damaged.
    public func tensor(named name: String) throws -> Tensor {
        guard let entry = compressedInfo(named: name) else {
            throw WeightsError(.tensorNotFound, "no tensor named '\(name)'", file: path, tensor: name)
        }
        return try tensor(entry)
    }

    /// The tensor stored as `entry`, one of ``compressedTensors``.
    ///
    /// - Precondition: `entry` is one of ``compressedTensors``, unchanged: its fields are what
    ///   the reads are sized by (an entry with a larger shape would read past the tensor).
    public func tensor(_ entry: CompressedTensorInfo, verifyDigest: Bool = false) throws -> Tensor {
        precondition(positions[UTF8Key(entry.name)].map { compressedTensors[$0] == entry } == true,
                     "tensor(_:): '\(entry.name)' is not an entry of this file's compressedTensors")
        return try WeightsError.tagging(file: path) {
            try Self.checkAllocatable(entry)
            // Sound: `entry` is the index's own (checked above), whose checks make its chunks
            // tile `storedByteCount` bytes and its byte count at most that. The decoder writes
            // every byte or throws: frame sizes are checked against the chunk.
            let owned = unsafe try arena.allocate(count: entry.storedByteCount) { buffer in
                unsafe try decode(entry, into: buffer)
                if verifyDigest { unsafe try checkDigest(entry, UnsafeRawBufferPointer(buffer)) }
            }
            var info = entry.info
            info.dataOffsets = 0..<info.byteCount
            // A GGUF tensor's stored bytes end with the padding to the next tensor: not its own.
            // Sound: `info.byteCount <= storedByteCount`, the allocation's size (see above).
            return unsafe Tensor(info: info, storage: owned, bytes: UnsafeRawBufferPointer(rebasing: owned.bytes[0..<info.byteCount]))
        }
    }

    /// Decompresses every chunk and checks every tensor's SHA-256, keeping nothing.
    ///
    /// - Complexity: O(original size); memory O(largest tensor).
    /// - Throws: `corruptData` naming the first damaged tensor found.
    public func verify() throws {
        for entry in compressedTensors { _ = try tensor(entry, verifyDigest: true) }
        try checkUnchanged()
    }

    // MARK: Decoding

    /// Decompresses `entry`'s chunks into `destination`, in parallel.
    func decode(_ entry: CompressedTensorInfo, into destination: UnsafeMutableRawBufferPointer) throws {
        precondition(destination.count == entry.storedByteCount, "decode(_:into:): destination is not the tensor's size")
        // Sound: the chunk ranges of an index entry tile `0..<storedByteCount`, which is
        // `destination` (checked above); each thread writes its own chunk.
        try ParallelChunks.run(jobs: entry.chunkCount, threads: threads,
                               state: { try lendDecompressor() }) { lease, chunk in
            let decompressor = lease.decompressor
            let range = index.chunkRange(chunk, of: entry)
            unsafe try decode(entry, chunk: chunk, into: UnsafeMutableRawBufferPointer(rebasing: destination[range]), using: decompressor)
        }
    }

    /// A decompressor for one thread's work, from the spares or new; it goes back to the
    /// spares when the lease ends.
    func lendDecompressor() throws -> DecompressorLease {
        let spare = spareDecompressors.take()
        return DecompressorLease(try spare ?? ChunkDecompressor(chunkSize: chunkSize), file: self)
    }

    /// Keeps `decompressor` for a later read (a few, one per thread at most).
    fileprivate func giveBack(_ decompressor: ChunkDecompressor) {
        spareDecompressors.keep(decompressor, limit: max(threads, 2))
    }

    /// Decompresses chunk `chunk` of `entry` into `destination`, which holds exactly its bytes.
    func decode(_ entry: CompressedTensorInfo, chunk: Int, into destination: UnsafeMutableRawBufferPointer,
                using decompressor: ChunkDecompressor) throws {
        let firstFrame = entry.firstFrame + chunk * entry.planeCount
        let frames = index.frames[firstFrame..<firstFrame + entry.planeCount]
        do {
            // Sound: `placeFrames` put every frame inside the container's bytes, which `storage`
            // (held by `self`, which the caller keeps alive through the call) owns.
            unsafe try decompressor.decompress(frames.map { unsafe UnsafeRawBufferPointer(rebasing: storage.bytes[$0]) },
                                        of: entry, into: unsafe destination)
        } catch let failure as ChunkDecompressor.PlaneFailure {
            // A frame that reads as damaged because the file was cut under us is a changed
            // file, not a damaged one.
            try checkUnchanged()
            let frame = frames[frames.startIndex + failure.plane]
            throw WeightsError(.corruptData,
                "tensor '\(entry.name)' is damaged: chunk \(chunk) plane \(failure.plane) (bytes \(frame.lowerBound)..<\(frame.upperBound)): \(failure.reason)",
                tensor: entry.name, offset: frame.lowerBound)
        }
    }

    func checkDigest(_ entry: CompressedTensorInfo, _ bytes: UnsafeRawBufferPointer) throws {
        let digest = unsafe SHA256Digest.hex(of: bytes)  // Sound: reads the caller's buffer, within the call.
        guard digest == entry.sha256 else {
            throw WeightsError(.corruptData, "tensor '\(entry.name)' fails its SHA-256 check: \(digest), expected \(entry.sha256)",
                               tensor: entry.name)
        }
    }

    /// Refuses a tensor larger than the machine's memory before anything is allocated: its
    /// size was checked against its frames, but frames may legitimately expand 32768-fold.
    static func checkAllocatable(_ entry: CompressedTensorInfo) throws {
        let memory = Int(sysconf(Int32(_SC_PHYS_PAGES))) &* Int(sysconf(Int32(_SC_PAGESIZE)))
        guard memory <= 0 || entry.storedByteCount <= memory else {
            throw WeightsError(.invalidArgument,
                "tensor '\(entry.name)' needs \(entry.storedByteCount) bytes, more than this machine's \(memory) bytes of memory",
                tensor: entry.name)
        }
    }
}

extension CompressedFile: TensorSource {
    public func checkUnchanged() throws { try storage.checkUnchanged() }
}

/// The decompressors a file keeps between reads, under a lock.
final class SpareDecompressors: Sendable {
    private let spares = LockedValue<[ChunkDecompressor]>([])

    func take() -> ChunkDecompressor? { spares.withLock { $0.popLast() } }

    func keep(_ decompressor: ChunkDecompressor, limit: Int) {
        spares.withLock { if $0.count < limit { $0.append(decompressor) } }
    }
}

/// A ``ChunkDecompressor`` lent to one thread; handed back to its file when released.
final class DecompressorLease {
    let decompressor: ChunkDecompressor
    private let file: CompressedFile

    init(_ decompressor: ChunkDecompressor, file: CompressedFile) {
        self.decompressor = decompressor
        self.file = file
    }

    deinit { file.giveBack(decompressor) }
}

/// One thread's decompression context and scratch space for a chunk's planes.
///
/// Sendable only to be kept between reads: one thread uses it at a time, and it changes hands
/// under the lock of the file's spares.
@safe  // Safety: owns the memory its pointers address (allocated at init, freed at deinit), and no pointer leaves its methods.
final class ChunkDecompressor: @unchecked Sendable {
    /// A plane that failed to decompress: which, and libzstd's reason.
    struct PlaneFailure: Error {
        var plane: Int
        var reason: String
    }

    private let decompressor: Zstd.Decompressor
    private let planes: UnsafeMutableRawBufferPointer

    init(chunkSize: Int) throws {
        decompressor = try Zstd.Decompressor()
        unsafe planes = .allocate(byteCount: chunkSize + CompressedTensorInfo.planeSlack, alignment: 64)  // Sound: freed once, at deinit.
    }

    deinit { unsafe planes.deallocate() }  // Sound: the only owner; no pointer into it leaves a method.

    /// Decompresses a chunk of `entry` from its plane frames into `chunk`, then interleaves them.
    func decompress(_ frames: [UnsafeRawBufferPointer], of entry: CompressedTensorInfo, into chunk: UnsafeMutableRawBufferPointer) throws {
        let grouping = entry.grouping
        // Sound: a chunk is at most the file's chunk size, and its planes at most `planeSlack`
        // bytes more, which `planes` holds (checked here, since the slices below are not); the
        // plane sizes sum to `target`'s size, so every plane slice lies in it; each frame is
        // the caller's, valid for the call; zstd writes no more than each destination's count;
        // the joins check their sizes agree.
        let sizes = entry.planeSizes(chunk.count)
        let planeBytes = sizes.reduce(0, +)
        unsafe precondition(chunk.count <= planes.count - CompressedTensorInfo.planeSlack && planeBytes <= planes.count,
                            "a chunk larger than the chunk size")
        // Without grouping the single plane is the chunk: decompress it in place.
        let target = unsafe grouping == .none ? chunk : UnsafeMutableRawBufferPointer(rebasing: planes[0..<planeBytes])
        var start = 0
        for unsafe (plane, frame) in unsafe frames.enumerated() {
            do {
                unsafe try decompressor.decompress(frame, into: UnsafeMutableRawBufferPointer(rebasing: target[start..<start + sizes[plane]]))
            } catch {
                throw PlaneFailure(plane: plane, reason: error.description)
            }
            start += sizes[plane]
        }
        switch grouping {
        case .none: break
        case .blockFields: unsafe BlockFields.join(UnsafeRawBufferPointer(target), fields: entry.fields, into: chunk)
        case .planes, .exponentPlanes, .exponentWindow: unsafe grouping.join(UnsafeRawBufferPointer(target), width: entry.elementWidth, into: chunk)
        }
    }
}

// MARK: - Restoring the original file

extension CompressedFile {
    /// A progress report: original bytes restored so far, and in all.
    public typealias Progress = (_ done: Int, _ total: Int) -> Void

    /// Writes the original file (safetensors or GGUF), byte for byte, to `path`.
    ///
    /// Decompression, verification and writing overlap on ``threads`` threads: each thread
    /// decompresses a chunk straight into its place in the output, mapped shared and writable
    /// with its blocks reserved first (else, where the filesystem can't reserve them, into a
    /// buffer that it then writes at its offset), and each tensor's SHA-256 runs over its
    /// chunks in order beside the others (see `RestorePipeline`). The output is an
    /// `AtomicFile`: a damaged container leaves no output behind.
    ///
    /// - Parameters:
    ///   - path: The file to write; replaced atomically if it exists.
    ///   - verifyDigests: also check every tensor's SHA-256 (chunk checksums are always checked).
    ///   - syncToDisk: wait for the data to reach the disk before renaming it into place
    ///     (`fsync`). Off, the output is still atomic but a power loss may leave it empty; the
    ///     container itself is the durable copy.
    ///   - progress: called with the original bytes restored so far and in all, one call at a time.
    /// - Complexity: O(original size) over ``threads`` threads; memory O(`threads × chunkSize`).
    /// - Throws: `corruptData` naming this container and the damaged tensor; `io` naming `path`
    ///   (a full disk fails before any tensor is decompressed).
    public func decompress(to path: String, verifyDigests: Bool = true, syncToDisk: Bool = true, progress: Progress? = nil) throws {
        try decompress(to: path, verifyDigests: verifyDigests, syncToDisk: syncToDisk, output: .automatic, progress: progress)
    }

    /// How ``decompress(to:verifyDigests:syncToDisk:progress:)`` writes its output: a seam for
    /// tests, which run both ways and make the block reservation fail.
    package enum RestoreOutput {
        /// Through a mapping where the filesystem reserves the blocks, else positioned writes.
        case automatic
        /// Positioned writes (`pwrite`) only.
        case positionedWrites
        /// As `automatic`, with this function in place of `fallocate(2)` (0, or -1 and `errno`).
        case reserving((Int32, Int64) -> Int32)
    }

    package func decompress(to path: String, verifyDigests: Bool, syncToDisk: Bool, output: RestoreOutput,
                            progress: Progress? = nil) throws {
        var emptyHasher = SHA256Digest.Hasher()
        let empty = Hex.string(emptyHasher.finalize())
        if verifyDigests, let entry = compressedTensors.first(where: { $0.chunkCount == 0 && $0.sha256 != empty }) {
            throw WeightsError(.corruptData, "tensor '\(entry.name)' fails its SHA-256 check: \(empty), expected \(entry.sha256)",
                               file: self.path, tensor: entry.name)
        }
        let out = try AtomicFile(path: path, syncToDisk: syncToDisk)
        var prefix = ByteWriter()
        if index.source == .safetensors { prefix.append(UInt64(index.headerBytes.count)) }
        prefix.bytes += index.headerBytes
        let start = prefix.bytes.count, total = originalSize
        try restore(into: out, prefix: prefix.bytes, output: output, verify: verifyDigests) { done in
            progress?(start + done, total)
        }
        try checkUnchanged()
        try out.commit()
    }

    /// Writes `prefix` and every tensor into `out`; the mapping, when there is one, is gone
    /// when this returns, so that `out` can be committed.
    private func restore(into out: AtomicFile, prefix: [UInt8], output: RestoreOutput, verify: Bool,
                         progress: (Int) -> Void) throws {
        // The index's checks place every tensor inside the original size; writes through the
        // mapping rely on it, so it is checked again here, once, whatever the index's code does.
        guard prefix.count <= originalSize,
              compressedTensors.allSatisfy({ $0.fileOffset >= prefix.count && $0.fileOffset <= originalSize - $0.storedByteCount }) else {
            throw WeightsError(.corruptData, "the index places a tensor outside the original \(originalSize) bytes", file: self.path)
        }
        let mapping: OutputMapping?
        switch output {
        case .automatic: mapping = try out.mapForWriting(count: originalSize)
        case .positionedWrites: mapping = nil
        case .reserving(let reserve): mapping = try out.mapForWriting(count: originalSize, reserve: reserve)
        }
        // Sound: the prefix is the file's first bytes, inside the mapping (checked above).
        if let mapping {
            unsafe mapping.bytes.copyBytes(from: prefix)
        } else {
            unsafe try prefix.withUnsafeBytes { unsafe try out.write($0, at: 0) }
        }
        let pipeline = RestorePipeline(file: self, out: out, mapping: mapping, prefixCount: prefix.count, verify: verify,
                                       threads: threads)
        do {
            try WeightsError.tagging(file: self.path) { try pipeline.run(threads: threads, progress: progress) }
        } catch {
            // A write through the mapping that failed explains whatever else went wrong after
            // it (a digest computed over the anonymous pages that replaced the file's).
            try mapping?.checkWrites()
            throw error
        }
        try mapping?.checkWrites()
    }

    /// The raw byte range, within its tensor, of chunk `chunk` of `entry`.
    func chunkRange(_ chunk: Int, of entry: CompressedTensorInfo) -> Range<Int> {
        index.chunkRange(chunk, of: entry)
    }
}

extension CompressedFile: CheckpointFormat {
    public static func recognizes(_ prefix: UnsafeRawBufferPointer) -> Bool {
        unsafe CompressedFormat.hasMagic(prefix)  // Sound: reads at most the buffer's count.
    }

    public static func open(storage: ByteStorage, path: String) throws -> any TensorSource {
        try CompressedFile(storage: storage, path: path)
    }
}
