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

            A checkpoint in compressed-tensors' pack-quantized or float-quantized layout, or in \
            DeepSeek-V3's FP8 layout, is also summarized by scheme (e.g. "compressed-tensors \
            pack-quantized int4, symmetric, group 128") with its layers, weights and the bits \
            each weight takes, values and scales together; --json adds them as "quantization": \
            [{"scheme", "layers", "weights", "stored_bytes", "bits_per_weight"}].

            A GGUF file is listed in its own terms: typed metadata (arrays over 64 items shown by \
            type and length with their first 8), tensors with their ggml type, shape as the file \
            stores it (fastest-varying dimension first), bytes and offset in the data section, and \
            totals per type with bits per weight. Its --json object has "format": "gguf", version, \
            alignment, file_size, data_offset, metadata (key to {"type", "value"}; arrays as \
            {"type": "ARRAY", "item_type", "value"}, or over 64 items {"type", "item_type", \
            "length", "head"}), tensors (name, type, shape, offset, bytes) and totals.
            """
    )

    @Argument(help: "A .safetensors or .gguf file, an index.json, or a model directory.")
    var path: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let source = try openSource(path)
        if let gguf = source as? GGUFTensorSource {
            let summary = GGUFSummary(file: gguf.file)
            print(try WeightsError.tagging(file: path) { try json ? summary.json() : summary.table() })
            return
        }
        let summary = try CheckpointSummary(source)
        print(json ? summary.json() : summary.table())
    }
}
