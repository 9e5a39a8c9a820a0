import ArgumentParser
import Weights

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Inspect, hash, verify, convert, compress and run model weight files (safetensors).",
        discussion: """
            PATH may be a .safetensors file, a sharded checkpoint's model.safetensors.index.json, \
            or a directory holding either.
            """,
        version: "0.1.0",
        subcommands: [
            InspectCommand.self, HashCommand.self, DigestCommand.self, ManifestCommand.self, VerifyCommand.self,
            DiffCommand.self, ConvertCommand.self, CompressCommand.self, DecompressCommand.self,
            EmbedCommand.self, SimilarCommand.self,
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

/// Output helpers shared by the subcommands.
enum Terminal {
    static func printError(_ line: String) {
        var standardError = StandardError()
        print(line, to: &standardError)
    }

    struct StandardError: TextOutputStream {
        mutating func write(_ string: String) {
            var text = string
            text.withUTF8 { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
    }

    static func exit(_ code: Int32) -> Never { Glibc.exit(code) }
}

/// Opens a checkpoint, making sure any error names the path the user gave.
func openSource(_ path: String) throws -> any TensorSource {
    try WeightsError.tagging(file: path) { try Checkpoint.open(path) }
}
