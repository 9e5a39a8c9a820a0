import ArgumentParser
import Weights

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
