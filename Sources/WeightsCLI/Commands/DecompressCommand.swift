import ArgumentParser
import Weights

struct DecompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decompress",
        abstract: "Restore the original safetensors or GGUF file from a .wzst container.",
        discussion: """
            The output is the file that was compressed, byte for byte. Every chunk's checksum \
            is checked, and every tensor's SHA-256 unless --no-verify is given; a damaged \
            container is reported with the tensor it damages, and leaves no output behind.
            """
    )

    @Argument(help: "The container to decompress.")
    var input: String

    @Argument(help: "The file to write (the container's source, safetensors or GGUF).")
    var output: String

    @Option(help: "The threads that decompress at once (default: every core).")
    var threads: Int?

    @Flag(name: .customLong("verify", withSingleDash: false), inversion: .prefixedNo,
          help: "Check every tensor's SHA-256 as well as every chunk's checksum.")
    var verify = true

    @Flag(name: .customLong("sync", withSingleDash: false), inversion: .prefixedNo,
          help: "Wait for the output to reach the disk (fsync) before renaming it into place. --no-sync keeps the write atomic but not durable, as zstd -d writes.")
    var sync = true

    func run() throws {
        let threads = threads ?? ParallelChunks.availableCores
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        let container = try CompressedFile(path: input, threads: threads)
        let bar = ProgressBar(label: "decompress")
        try container.decompress(to: output, verifyDigests: verify, syncToDisk: sync) { done, total in
            bar.update(done: done, total: total)
        }
        bar.finish()
    }
}
