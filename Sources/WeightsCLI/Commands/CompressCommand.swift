import ArgumentParser
import Weights

struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Compress a safetensors or GGUF file losslessly into a .wzst container.",
        discussion: """
            Tensors are cut into chunks; floating tensors are split into planes that keep the \
            exponent's bits apart from the mantissa's, and every plane is compressed with zstd \
            into its own checksummed frame, on all cores. `weights decompress` restores the original file byte for byte; \
            `inspect`, `hash --tensors` and `convert` read the container directly, \
            decompressing only the tensors they need. A GGUF file keeps its header and \
            metadata verbatim and each tensor in its own chunks. See Spec/compressed-container.md.
            """
    )

    @Argument(help: "The safetensors or GGUF file to compress.")
    var input: String

    @Argument(help: "The container to write (by convention, NAME.wzst).")
    var output: String

    @Option(help: "The zstd level of the planes that compress (negative levels are faster).")
    var level: Int = CompressionOptions().level

    @Option(help: "The threads that compress at once (default: every core).")
    var threads: Int?

    @Option(help: "Tensor bytes per chunk, a multiple of 8 from 4KiB to 64MiB (e.g. 1MiB, 4MiB).",
            transform: ByteSize.parse)
    var chunkSize: Int = CompressedFormat.defaultChunkSize

    @Flag(name: .customLong("sync", withSingleDash: false), inversion: .prefixedNo,
          help: "Wait for the container to reach the disk (fsync) before renaming it into place. --no-sync keeps the write atomic but not durable, as zstd writes.")
    var sync = true

    func run() throws {
        let options = CompressionOptions(level: level, chunkSize: chunkSize, threads: threads ?? ParallelChunks.availableCores,
                                         syncToDisk: sync)
        let bar = ProgressBar(label: "compress")
        let start = ContinuousClock.now
        let summary = try CompressedWriter.compress(file: input, to: output, options: options) { done, total in
            bar.update(done: done, total: total)
        }
        bar.finish()
        let seconds = (ContinuousClock.now - start).seconds
        print("\(output): \(formatBytes(summary.originalSize)) -> \(formatBytes(summary.compressedSize)) "
              + "(\(formatRatio(summary.ratio))) in \(formatSeconds(seconds))")
    }
}
