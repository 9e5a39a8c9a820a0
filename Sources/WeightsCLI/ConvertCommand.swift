import ArgumentParser
import Weights

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Rewrite weights as a canonical safetensors file, or as a sharded set.",
        discussion: """
            The output is laid out as the reference safetensors writer lays it out: for a file \
            that writer made, the output is identical byte for byte. With --shard-size, OUT is \
            the index path (DIR/model.safetensors.index.json) or the directory, which is created \
            if missing; shards are filled in the input's order. Every file is written to a \
            temporary name and renamed into place.
            """
    )

    @Argument(help: "Input: a .safetensors file, an index.json, or a model directory.")
    var input: String

    @Argument(help: "Output file, or with --shard-size the index path or directory.")
    var output: String

    @Option(help: "Split the output into shards of at most this much tensor data (e.g. 5GB, 500MB, 2GiB, 1000000).",
            transform: ByteSize.parse)
    var shardSize: Int?

    func run() throws {
        let source = try openSource(input)
        if let shardSize {
            let directory = output.hasSuffix(".index.json") ? parentDirectory(of: output) : output
            try ShardedWriter.write(source, to: directory, maximumShardSize: shardSize)
        } else {
            let writer = try SafetensorsWriter(path: output, tensors: source.tensors.map(\.descriptor), metadata: source.metadata)
            while let next = writer.nextTensor {
                try writer.write(try source.tensor(named: next.name))
            }
            try writer.finish()
        }
    }
}

func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return path[..<slash].isEmpty ? "/" : String(path[..<slash])
}

/// Sizes written by people: "5GB" (decimal units), "2GiB" (binary units), or plain bytes.
enum ByteSize {
    static func parse(_ text: String) throws -> Int {
        let units: [(String, Int)] = [
            ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("tib", 1 << 40),
            ("kb", 1_000), ("mb", 1_000_000), ("gb", 1_000_000_000), ("tb", 1_000_000_000_000),
            ("k", 1_000), ("m", 1_000_000), ("g", 1_000_000_000), ("b", 1),
        ]
        let lower = text.lowercased().trimmingTrailingSpaces()
        for (suffix, multiplier) in units where lower.hasSuffix(suffix) {
            let number = lower.dropLast(suffix.count).trimmingCharacters(in: " ")
            if let value = Double(number), value > 0, value * Double(multiplier) < 9e18 {
                return Int(value * Double(multiplier))
            }
            throw ValidationError("invalid size '\(text)': expected a positive number with an optional unit, e.g. 5GB")
        }
        guard let value = Int(lower), value > 0 else {
            throw ValidationError("invalid size '\(text)': expected a positive number with an optional unit, e.g. 5GB")
        }
        return value
    }
}

extension Substring {
    func trimmingCharacters(in characters: Character) -> String {
        String(drop { $0 == characters }.reversed().drop { $0 == characters }.reversed())
    }
}
