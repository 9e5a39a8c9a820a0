import CZstd
import Weights

/// Benchmarks of the compressed container: compressing, and decompressing every tensor,
/// against libzstd decompressing a plain `.zst` of the same file in the same process.
enum CompressionBench {
    /// `compress SOURCE DEST [--repeat N] [--threads T] [--level L]`: compress SOURCE into a
    /// container at DEST (atomic, fsync'd).
    static func compress(_ arguments: [String]) throws {
        let source = try SafetensorsFile(path: arguments[0])
        let options = CompressionOptions(level: option("level", in: arguments, default: 1),
                                         threads: option("threads", in: arguments, default: ParallelChunks.availableCores))
        var size = 0
        let seconds = try Timing.measure(repeats: option("repeat", in: arguments, default: 5)) {
            size = try CompressedWriter.compress(source, to: arguments[1], options: options).compressedSize
        }
        Timing.report("compress", seconds, extra: "\"bytes\":\(source.fileSize),\"compressed\":\(size)")
    }

    /// `decompress CONTAINER [--repeat N] [--threads T]`: open the container and decompress
    /// every tensor into owned memory, as loading a model does.
    static func decompress(_ arguments: [String]) throws {
        let threads = option("threads", in: arguments, default: ParallelChunks.availableCores)
        var bytes = 0
        let seconds = try Timing.measure(repeats: option("repeat", in: arguments, default: 5)) {
            let file = try CompressedFile(path: arguments[0], threads: threads)
            bytes = 0
            for entry in file.compressedTensors { bytes += try file.tensor(entry).byteCount }
        }
        Timing.report("decompress", seconds, extra: "\"bytes\":\(bytes),\"threads\":\(threads)")
    }

    /// `zstd-decompress FILE.zst [--repeat N]`: libzstd's one-shot decompression of a whole
    /// `.zst` file (one frame, as the zstd tool writes it) into fresh memory, on one thread:
    /// what `zstd -d` does, without its file I/O. Fresh memory each run, as `decompress` gets,
    /// so both pay for first touching their output.
    static func zstdDecompress(_ arguments: [String]) throws {
        let storage = try ByteStorage.map(path: arguments[0])
        let (size, seconds) = unsafe try storage.withUnsafeBytes { input in
            let size = unsafe Int(ZSTD_getFrameContentSize(input.baseAddress, input.count))
            let context = unsafe ZSTD_createDCtx()
            defer { unsafe ZSTD_freeDCtx(context) }
            let seconds = try Timing.measure(repeats: option("repeat", in: arguments, default: 5)) {
                let output = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
                defer { unsafe output.deallocate() }
                let written = unsafe ZSTD_decompressDCtx(context, output.baseAddress, size, input.baseAddress, input.count)
                guard ZSTD_isError(written) == 0, written == size else {
                    throw WeightsError(.corruptData, unsafe "zstd: \(String(cString: ZSTD_getErrorName(written)))", file: arguments[0])
                }
            }
            return (size, seconds)
        }
        Timing.report("zstd-decompress", seconds, extra: "\"bytes\":\(size)")
    }
}
