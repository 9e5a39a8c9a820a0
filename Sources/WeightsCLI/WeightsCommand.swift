import ArgumentParser
import Weights
import WeightsEngine

import WeightsPlatform

@main
struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Inspect, hash, verify, convert, compress and run model weight files (safetensors, GGUF).",
        discussion: """
            PATH may be a .safetensors file, a sharded checkpoint's model.safetensors.index.json, \
            or a directory holding either.
            """,
        version: "0.1.0",
        subcommands: [
            InspectCommand.self, HashCommand.self, DigestCommand.self, ManifestCommand.self, VerifyCommand.self,
            DiffCommand.self, ConvertCommand.self, CompressCommand.self, DecompressCommand.self,
            EmbedCommand.self, SimilarCommand.self, GenerateCommand.self, TokenizeCommand.self,
        ]
    )

    /// Runs the command; a `WeightsError` becomes one line, `error: <path>: <reason>`, and exit 1.
    static func main() {
        // OpenBLAS's pthreads build starts a worker a core when it loads, and each spins for
        // about a tenth of a second: on two cores `weights decompress` of MiniLM took 119 ms
        // (211 ms CPU) with them and 72 ms (117 ms CPU) without. No command uses them.
        BLAS.singleThreaded
        // An interrupted write leaves no temporary file behind, and a file truncated while it
        // is read is an error, not SIGBUS (Spec/reading.md).
        AtomicFile.removeTemporaryFilesOnInterrupt()
        ByteStorage.guardMappedReads()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as WeightsError {
            Terminal.printError("error: \(error)")
            Terminal.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}
