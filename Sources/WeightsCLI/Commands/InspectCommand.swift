import ArgumentParser
import Weights

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors, totals and metadata of a weights file.",
        discussion: """
            Tensors are listed in data order with their dtype, shape, size and offset in the data \
            section. --json prints one object: format, file_size, header_size (the header length \
            field, summed over shards), metadata and tensors (with "file" for sharded sets).
            """
    )

    @Argument(help: "A .safetensors file, an index.json, or a model directory.")
    var path: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let source = try openSource(path)
        let summary = CheckpointSummary(source)
        print(json ? summary.json() : summary.table())
    }
}
