import ArgumentParser
import Weights

struct DigestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "Print the content digest: one SHA-256 for the tensors, whatever the file layout.",
        discussion: """
            The SHA-256 of a canonical listing of every tensor's name, dtype, shape and raw-byte \
            SHA-256, sorted by name (Spec/digests.md). It is the same for one file, a sharded \
            set, a compressed container or another tensor order, and changes with any byte, \
            name, dtype or shape. Metadata is not part of it.
            """
    )

    @Argument(help: "A .safetensors file, an index.json, a model directory, or a compressed container.")
    var path: String

    func run() throws {
        let source = try openSource(path)
        print("\(try WeightsError.tagging(file: path) { try ContentDigest.compute(for: source) })  \(path)")
    }
}
