import ArgumentParser
import Weights

struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the SHA-256 of a file, or of each tensor's raw bytes.",
        discussion: """
            Without --tensors, prints "<sha256>  PATH" as sha256sum does: for a file from the \
            model hub this is the digest the hub publishes. With --tensors, prints \
            "<sha256>  <name>" for every tensor, in data order.
            """
    )

    @Argument(help: "The file to hash (with --tensors: any weights path).")
    var path: String

    @Flag(help: "Hash each tensor's raw bytes instead of the file.")
    var tensors = false

    func run() throws {
        if tensors {
            let source = try openSource(path)
            for info in source.tensors {
                print("\(SHA256Digest.hex(of: try source.tensor(named: info.name)))  \(info.name)")
            }
        } else {
            print("\(try SHA256Digest.file(at: path))  \(path)")
        }
    }
}
