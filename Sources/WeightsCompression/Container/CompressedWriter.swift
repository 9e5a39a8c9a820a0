import WeightsCore
import WeightsIntegrity
/// Settings for writing a compressed container.
///
/// ```swift
/// var options = CompressionOptions()
/// options.level = 3
/// options.threads = 2
/// ```
public struct CompressionOptions: Sendable, Hashable {
    /// The zstd level for the planes that compress. Level 1 is the default: on the exponent
    /// plane of weights it compresses as well as levels 3 to 9, and faster. At level 1 and
    /// below, a plane whose sampled bytes look random (``ByteEntropy``) is compressed at level
    /// −1, which still finds repeats but spends a sixth of the time on bytes it cannot shrink.
    public var level: Int
    /// Tensor bytes per chunk: a multiple of 8 in ``CompressedFormat/chunkSizes``.
    public var chunkSize: Int
    /// The number of threads that compress chunks at once.
    public var threads: Int
    /// Whether exponent planes (the top plane of a grouped floating tensor) get zstd
    /// parameters tuned for them — few, long matches, so that nearly every byte is Huffman
    /// coded — instead of `level`. Tuned, they compress better than at any level, at level 1's
    /// speed (see `Benchmarks/compression/RESULTS.md`).
    public var tunesExponentPlanes: Bool
    /// Whether the container reaches the disk (fsync) before it is renamed into place. Either
    /// way the write is atomic: the container appears under its name whole or not at all.
    public var syncToDisk: Bool

    public init(level: Int = 1, chunkSize: Int = CompressedFormat.defaultChunkSize, threads: Int = ParallelChunks.availableCores,
                tunesExponentPlanes: Bool = true, syncToDisk: Bool = true) {
        self.level = level
        self.chunkSize = chunkSize
        self.threads = threads
        self.tunesExponentPlanes = tunesExponentPlanes
        self.syncToDisk = syncToDisk
    }

    func validate() throws {
        guard Zstd.levels.contains(level) else {
            throw WeightsError(.invalidArgument, "compression level \(level) is outside \(Zstd.levels.lowerBound)...\(Zstd.levels.upperBound)")
        }
        guard CompressedFormat.chunkSizes.contains(chunkSize), chunkSize % 8 == 0 else {
            throw WeightsError(.invalidArgument,
                "chunk size \(chunkSize) is not a multiple of 8 in \(CompressedFormat.chunkSizes.lowerBound)...\(CompressedFormat.chunkSizes.upperBound)")
        }
        guard threads >= 1 else { throw WeightsError(.invalidArgument, "thread count \(threads) is below 1") }
    }
}

/// What compressing a file produced.
public struct CompressionSummary: Sendable, Hashable {
    /// The size of the safetensors file that was compressed.
    public var originalSize: Int
    /// The size of the container written.
    public var compressedSize: Int
    /// How each tensor was stored.
    public var tensors: [CompressedTensorInfo]

    /// The original size over the compressed size.
    public var ratio: Double { Double(originalSize) / Double(max(compressedSize, 1)) }
}

/// Writes safetensors files as compressed containers (see ``CompressedFormat``).
///
/// Chunks are compressed in parallel and written in order as they are ready, through an
/// `AtomicFile`: memory stays bounded by a window of chunks, whatever the model's size, and the
/// container appears under its name only once it is complete.
///
/// ```swift
/// let source = try SafetensorsFile(path: "model.safetensors")
/// let summary = try CompressedWriter.compress(source, to: "model.wzst")
/// print(summary.ratio)
/// ```
public enum CompressedWriter {
    /// A progress report: tensor bytes done so far, and in all.
    public typealias Progress = (_ done: Int, _ total: Int) -> Void

    /// Compresses `source` into a container at `path`.
    ///
    /// - Complexity: O(*n*) in the file's size, over `options.threads` threads; memory
    ///   O(`threads × chunkSize`).
    /// - Throws: `invalidArgument` for bad options, `io` when the container cannot be written.
    @discardableResult
    public static func compress(
        _ source: SafetensorsFile, to path: String, options: CompressionOptions = CompressionOptions(),
        progress: Progress? = nil
    ) throws -> CompressionSummary {
        // Sound: `SafetensorsFile` checked `8 <= dataOffset <= fileSize`; the bytes are copied
        // while `source` holds the storage.
        let input = Input(kind: .safetensors, storage: source.storage, headerBytes: unsafe Array(source.storage.bytes[8..<source.dataOffset]),
                          tensors: source.tensors.map { ($0, source.dataOffset + $0.dataOffsets.lowerBound, $0.byteCount, nil) },
                          checkUnchanged: source.checkUnchanged)
        return try compress(input, to: path, options: options, progress: progress)
    }

    /// Compresses the GGUF file `source` into a container at `path` (format version 2): its
    /// header and metadata verbatim, each tensor's blocks with the padding after them, so that
    /// decompressing gives back the file byte for byte and each tensor reads on its own.
    ///
    /// Tensors of F32, F16, BF16 and F64 are byte-grouped as in safetensors files; the blocks
    /// of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q2_K to Q6_K are split into their fields (scales
    /// with scales, quants with quants; see `BlockFields`); other types are stored as they are.
    ///
    /// - Throws: as ``compress(_:to:options:progress:)-(SafetensorsFile,_,_,_)``, and
    ///   `unsupportedFormat` when two tensors share bytes.
    @discardableResult
    public static func compress(
        _ source: GGUFFile, to path: String, options: CompressionOptions = CompressionOptions(),
        progress: Progress? = nil
    ) throws -> CompressionSummary {
        let layout = try GGUFContainerLayout(source, fileSize: source.fileSize)
        // Sound: the layout's prefix ends within `fileSize`, the storage's size; the bytes are
        // copied while `source` holds the storage.
        let input = Input(kind: .gguf, storage: source.storage, headerBytes: unsafe Array(source.storage.bytes[0..<layout.prefixLength]),
                          tensors: zip(zip(layout.tensors, layout.placements), layout.types).map {
                              ($0.0, $0.1.fileOffset, $0.1.stored, BlockFields.fields(for: $1))
                          },
                          checkUnchanged: source.storage.checkUnchanged)
        return try compress(input, to: path, options: options, progress: progress)
    }

    /// Compresses the safetensors or GGUF file at `inputPath` (told apart by their magic) into
    /// a container at `path`.
    @discardableResult
    public static func compress(
        file inputPath: String, to path: String, options: CompressionOptions = CompressionOptions(),
        progress: Progress? = nil
    ) throws -> CompressionSummary {
        let storage = try ByteStorage.map(path: inputPath)
        // Sound: `prefix` clamps to the bytes, which `storage` keeps alive for the call.
        if unsafe GGUFFile.recognizes(UnsafeRawBufferPointer(rebasing: storage.bytes.prefix(8))) {
            return try compress(try GGUFFile(storage: storage, path: inputPath), to: path, options: options, progress: progress)
        }
        return try compress(try SafetensorsFile(storage: storage, path: inputPath), to: path, options: options, progress: progress)
    }

    /// A file to compress: its bytes, the prefix the index keeps, and where each tensor's
    /// stored bytes are, in data order.
    private struct Input {
        var kind: CompressedSourceFormat
        var storage: ByteStorage
        var headerBytes: [UInt8]
        var tensors: [(info: TensorInfo, fileOffset: Int, stored: Int, fields: [Int]?)]
        var checkUnchanged: () throws -> Void
        var fileSize: Int { unsafe storage.bytes.count }  // Sound: reads the count only.
    }

    private static func compress(_ source: Input, to path: String, options: CompressionOptions, progress: Progress?) throws -> CompressionSummary {
        try WeightsError.tagging(file: path) {
            try options.validate()
            var plan = layout(source, chunkSize: options.chunkSize)
            try digest(source, into: &plan, threads: options.threads)
            try source.checkUnchanged()
            let out = try AtomicFile(path: path, syncToDisk: options.syncToDisk)
            let version = CompressedFormat.version(source: source.kind, groupings: plan.map(\.grouping))
            try out.write(CompressedIndex.prologue(version: version))
            let frameSizes = try writeFrames(source, plan: plan, options: options, to: out, progress: progress)
            var offset = CompressedFormat.prologueSize
            for position in plan.indices {
                let frames = plan[position].firstFrame..<plan[position].firstFrame + plan[position].chunkCount * plan[position].planeCount
                plan[position].compressedSize = frames.reduce(0) { $0 + frameSizes[$1] }
                offset += plan[position].compressedSize
            }
            let index = try CompressedIndex.encode(version: version, source: source.kind, headerBytes: source.headerBytes, originalSize: source.fileSize,
                                                   chunkSize: options.chunkSize, tensors: plan, frameSizes: frameSizes)
            try out.write(index)
            try out.write(CompressedIndex.trailer(indexOffset: offset, index: index))
            let size = out.bytesWritten
            try source.checkUnchanged()
            try out.commit()
            return CompressionSummary(originalSize: source.fileSize, compressedSize: size, tensors: plan)
        }
    }

    /// Every tensor's grouping and chunk count; sizes and digests come later.
    private static func layout(_ source: Input, chunkSize: Int) -> [CompressedTensorInfo] {
        var firstFrame = 0
        return source.tensors.map { info, fileOffset, stored, fields in
            let preferred = fields.map { (ByteGrouping.blockFields, $0.count + 1) } ?? ByteGrouping.preferred(for: info.dtype)
            let (grouping, width) = preferred.0 == .blockFields || stored % preferred.1 == 0 ? preferred : (.none, 1)
            let chunkBytes = CompressedTensorInfo.chunkBytes(chunkSize, grouping: grouping, fields: fields ?? [])
            let chunks = stored / chunkBytes + (stored % chunkBytes == 0 ? 0 : 1)
            let planeCount = grouping == .exponentWindow ? width + 1 : width
            defer { firstFrame += chunks * planeCount }
            return CompressedTensorInfo(info: info, grouping: grouping, planeCount: planeCount, chunkCount: chunks, sha256: "",
                                        storedByteCount: stored, fileOffset: fileOffset, compressedSize: 0, firstFrame: firstFrame,
                                        chunkBytes: chunkBytes, fields: grouping == .blockFields ? fields ?? [] : [])
        }
    }

    // Sound: `digests` has a slot per tensor, initialized before the run and deinitialized
    // after it; each job writes only its own tensor's slot. Each tensor's stored range lies
    // in the file (its placement was checked by the file's reader: `SafetensorsFile`, or
    // `GGUFFile` and `GGUFContainerLayout`), whose bytes `source.storage` keeps alive.
    /// Fills in every tensor's SHA-256, largest tensors first so the threads finish together.
    private static func digest(_ source: Input, into plan: inout [CompressedTensorInfo], threads: Int) throws {
        let order = plan.indices.sorted { plan[$0].storedByteCount > plan[$1].storedByteCount }
        let digests = UnsafeMutableBufferPointer<String>.allocate(capacity: plan.count)
        unsafe digests.initialize(repeating: "")
        defer { unsafe digests.deinitialize().deallocate() }
        let file = unsafe source.storage.bytes
        ParallelChunks.run(jobs: order.count, threads: threads, state: {}) { _, job in
            let position = order[job]
            let range = plan[position].fileOffset..<plan[position].fileOffset + plan[position].storedByteCount
            unsafe digests[position] = unsafe SHA256Digest.hex(of: UnsafeRawBufferPointer(rebasing: file[range]))
        }
        for position in plan.indices { plan[position].sha256 = unsafe digests[position] }
    }

    /// One chunk to compress: which tensor, and its bytes' range in the source file.
    private struct Job {
        var tensor: Int
        var bytes: Range<Int>
    }

    // Sound: each job's range is a chunk of its tensor's stored range, inside the file (see
    // `digest`), whose bytes `source.storage` keeps alive until the run has returned.
    /// Compresses every chunk on `options.threads` threads and writes the frames in order as
    /// they are ready (`OrderedFrameWriter`); returns their sizes in index order.
    private static func writeFrames(
        _ source: Input, plan: [CompressedTensorInfo], options: CompressionOptions,
        to out: AtomicFile, progress: Progress?
    ) throws -> [Int] {
        var jobs: [Job] = []
        for (position, tensor) in plan.enumerated() {
            let start = tensor.fileOffset
            for chunk in 0..<tensor.chunkCount {
                let range = chunk * tensor.chunkBytes..<min((chunk + 1) * tensor.chunkBytes, tensor.storedByteCount)
                jobs.append(Job(tensor: position, bytes: start + range.lowerBound..<start + range.upperBound))
            }
        }
        let total = plan.reduce(0) { $0 + $1.storedByteCount }
        // Chunks that may wait for an earlier one to be written: a few per thread, and no more
        // than 256 MiB of them.
        let window = max(options.threads, min(options.threads * 4, (256 << 20) / options.chunkSize))
        let writer = OrderedFrameWriter(out, chunks: jobs.count, window: window, total: total,
                                        checkUnchanged: source.checkUnchanged, progress: progress)
        let file = unsafe source.storage.bytes
        try ParallelChunks.run(jobs: jobs.count, threads: options.threads,
                               state: { try ChunkCompressor(options) }) { compressor, index in
            let job = jobs[index]
            let tensor = plan[job.tensor]
            let frames: (bytes: [UInt8], sizes: [Int])
            do {
                frames = unsafe try compressor.compress(UnsafeRawBufferPointer(rebasing: file[job.bytes]), of: tensor)
            } catch {
                let failure = WeightsError(.io, "cannot compress tensor '\(tensor.name)': \(error)", tensor: tensor.name)
                writer.fail(failure)
                throw failure
            }
            try writer.deliver(index, frames: frames.bytes, sizes: frames.sizes, bytes: job.bytes.count)
        }
        return try writer.finish()
    }
}

/// One thread's compression context and scratch space.
@safe  // Safety: owns the memory its pointers address (allocated at init, freed at deinit), and no pointer leaves its methods.
private final class ChunkCompressor {
    private let compressor: Zstd.Compressor
    private let exponentCompressor: Zstd.Compressor
    /// For planes that look random, at the default level and below.
    private let randomCompressor: Zstd.Compressor?
    private let planes: UnsafeMutableRawBufferPointer
    private let frame: UnsafeMutableRawBufferPointer

    // Sound: both buffers are this object's alone, freed once at deinit.
    init(_ options: CompressionOptions) throws {
        compressor = try Zstd.Compressor(.level(options.level))
        exponentCompressor = options.tunesExponentPlanes ? try Zstd.Compressor(.exponent) : compressor
        randomCompressor = options.level <= 1 ? try Zstd.Compressor(.level(min(options.level, -1))) : nil
        unsafe planes = .allocate(byteCount: options.chunkSize + CompressedTensorInfo.planeSlack, alignment: 64)
        unsafe frame = .allocate(byteCount: Zstd.bound(options.chunkSize), alignment: 64)
    }

    deinit {
        // Sound: the only owner; no pointer into them leaves a method.
        unsafe planes.deallocate()
        unsafe frame.deallocate()
    }

    /// The chunk's frames, one per plane, end to end, and their sizes.
    func compress(_ chunk: UnsafeRawBufferPointer, of tensor: CompressedTensorInfo) throws -> (bytes: [UInt8], sizes: [Int]) {
        let grouping = tensor.grouping
        // Sound: a chunk is at most the chunk size, and its planes at most `planeSlack` bytes
        // more, which `planes` holds (checked here, as the slices are not), so `scratch` lies in
        // `planes`; the plane sizes sum to the scratch's size; `frame` holds
        // `Zstd.bound(chunkSize)` bytes, enough for any plane, and zstd returns at most its
        // count, so `frame[0..<size]` lies in it.
        let planeSizes = tensor.planeSizes(chunk.count)
        let planeBytes = planeSizes.reduce(0, +)
        unsafe precondition(chunk.count <= planes.count - CompressedTensorInfo.planeSlack && planeBytes <= planes.count,
                            "a chunk larger than the chunk size")
        var grouped = unsafe chunk
        if grouping != .none {
            let scratch = unsafe UnsafeMutableRawBufferPointer(rebasing: planes[0..<planeBytes])
            if grouping == .blockFields {
                unsafe BlockFields.split(chunk, fields: tensor.fields, into: scratch)
            } else {
                unsafe grouping.split(chunk, width: tensor.elementWidth, into: scratch)
            }
            unsafe grouped = UnsafeRawBufferPointer(scratch)
        }
        var bytes: [UInt8] = []
        var sizes: [Int] = []
        var start = 0
        for plane in planeSizes.indices {
            let source = unsafe UnsafeRawBufferPointer(rebasing: grouped[start..<start + planeSizes[plane]])
            start += planeSizes[plane]
            let isExponent = (grouping == .exponentPlanes || grouping == .exponentWindow) && plane == planeSizes.count - 1
            let chosen = if isExponent {
                exponentCompressor
            } else if let randomCompressor, unsafe ByteEntropy.sampledBits(of: source) >= ByteEntropy.randomThreshold {
                randomCompressor
            } else {
                compressor
            }
            let size = unsafe try chosen.compress(source, into: frame)
            unsafe bytes += UnsafeRawBufferPointer(rebasing: frame[0..<size])
            sizes.append(size)
        }
        return (bytes, sizes)
    }
}
