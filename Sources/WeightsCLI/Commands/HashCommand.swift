import ArgumentParser
import Weights

struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the SHA-256 of a file, or of each tensor's raw bytes.",
        discussion: """
            Without --tensors, prints "<sha256>  PATH" as sha256sum does: for a file from the \
            model hub this is the digest the hub publishes. With --tensors, prints \
            "<sha256>  <name>" for every tensor, in data order, hashing tensors on all cores.
            """
    )

    @Argument(help: "The file to hash (with --tensors: any weights path).")
    var path: String

    @Flag(help: "Hash each tensor's raw bytes instead of the file.")
    var tensors = false

    @Option(help: "With --tensors: how many tensors to hash at once (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        if tensors {
            let source = try openSource(path)
            let digests = try WeightsError.tagging(file: path) { try TensorDigests.compute(for: source, threads: threads) }
            print(digests.map { "\($0.sha256)  \($0.name)\n" }.joined(), terminator: "")
        } else {
            print("\(try SHA256Digest.file(at: path))  \(path)")
        }
    }
}
