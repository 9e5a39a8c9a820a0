import ArgumentParser
import Weights

struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Print sha256sum lines for every file of a model, shards and index included.",
        discussion: """
            A directory contributes every file below it, an index.json itself and its shards. \
            The output can be checked with `sha256sum -c` or `weights verify --manifest`.
            """
    )

    @Argument(help: "Files, index.json files or model directories.")
    var paths: [String]

    func run() throws {
        print(try Manifest.make(for: paths).text, terminator: "")
    }
}
