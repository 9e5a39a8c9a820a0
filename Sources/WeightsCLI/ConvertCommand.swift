import ArgumentParser
import Weights

#if canImport(Glibc)
import Glibc
#endif

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

            --dtype converts every floating tensor: f32, f16 and bf16 round once to nearest, \
            ties to even (as numpy and PyTorch do), keeping subnormals; a finite value too \
            large for the format becomes infinity and is reported on stderr with the tensor's \
            name. int8 quantizes every floating tensor of rank 2 or more per row (scale = \
            max|row| / 127), writing NAME as I8 and NAME_scale as F32 [rows, 1, ...]; tensors \
            of lower rank keep their dtype. Converting an int8 file to f32, f16 or bf16 \
            dequantizes it and drops the scales. Integer and bool tensors are never changed. \
            --report prints, for each converted tensor, the max abs error, RMS error, SQNR \
            and cosine similarity against the source (--json: as one JSON object).
            """
    )

    @Argument(help: "Input: a .safetensors file, an index.json, or a model directory.")
    var input: String

    @Argument(help: "Output file, or with --shard-size the index path or directory.")
    var output: String

    @Option(help: "Split the output into shards of at most this much tensor data (e.g. 5GB, 500MB, 2GiB, 1000000).",
            transform: ByteSize.parse)
    var shardSize: Int?

    @Option(help: "Convert floating tensors to f32, f16, bf16 or int8.", transform: parseTarget)
    var dtype: ConversionTarget?

    @Flag(help: "With --dtype: print each converted tensor's error against the source.")
    var report = false

    @Flag(help: "With --report: print the report as JSON.")
    var json = false

    @Flag(help: "Record each tensor's SHA-256 and the content digest in the output's metadata, for `weights verify`.")
    var embedDigests = false

    func validate() throws {
        if report, dtype == nil { throw ValidationError("--report needs --dtype") }
        if json, !report { throw ValidationError("--json needs --report") }
    }

    func run() throws {
        try write()
        if embedDigests { try Self.embedDigests(in: output) }
    }

    private func write() throws {
        let source = try openSource(input)
        if let dtype {
            try convert(source, to: dtype)
            return
        }
        if let shardSize {
            let directory = output.hasSuffix(".index.json") ? parentDirectory(of: output) : output
            try ShardedWriter.write(source, to: directory, maximumShardSize: shardSize)
        } else {
            let writer = try SafetensorsWriter(path: output, tensors: source.tensors.map(\.descriptor), metadata: source.metadata)
            while let next = writer.nextTensor {
                try writer.write(try source.tensor(named: next.name))
                try WeightsError.tagging(file: input) { try source.checkUnchanged() }
            }
            try WeightsError.tagging(file: input) { try source.checkUnchanged() }
            try writer.finish()
        }
    }
}

extension ConvertCommand {
    /// Rewrites the file at `path` with its tensors' digests in its metadata (Spec/digests.md).
    /// The old file stays mapped while the new one replaces it atomically.
    static func embedDigests(in path: String) throws {
        let file = try SafetensorsFile(path: path)
        let digests = try TensorDigests.compute(for: file).map(\.sha256)
        let metadata = EmbeddedDigests.adding(to: file.metadata, tensors: file.tensors, digests: digests)
        let writer = try SafetensorsWriter(path: path, tensors: file.tensors.map(\.descriptor), metadata: metadata)
        while let next = writer.nextTensor { try writer.write(file.tensor(next)) }
        try file.checkUnchanged()
        try writer.finish()
    }

    private func convert(_ source: any TensorSource, to target: ConversionTarget) throws {
        let converter = try TensorConverter(source: source, target: target)
        let result: ConversionReport
        if let shardSize {
            let directory = output.hasSuffix(".index.json") ? parentDirectory(of: output) : output
            let converted = converter.convertedSource(measuringAccuracy: report)
            try ShardedWriter.write(converted, to: directory, maximumShardSize: shardSize, metadata: converter.metadata)
            result = converted.report
        } else {
            result = try converter.write(to: output, measuringAccuracy: report)
        }
        for tensor in result.tensors where tensor.overflowCount > 0 {
            Terminal.printError("warning: \(input): tensor '\(tensor.name)': \(tensor.overflowCount) finite "
                + "value\(tensor.overflowCount == 1 ? "" : "s") overflowed to infinity in \(tensor.dtype)")
        }
        if report { print(json ? result.json() : ConversionTable.render(result)) }
    }
}

private func parseTarget(_ text: String) throws -> ConversionTarget {
    guard let target = ConversionTarget(text) else {
        throw ValidationError("unknown dtype '\(text)': expected f32, f16, bf16 or int8")
    }
    return target
}

/// The --report table: one row per converted tensor.
enum ConversionTable {
    static func render(_ report: ConversionReport) -> String {
        let header = ["name", "from", "to", "max abs error", "rms error", "sqnr dB", "cosine", "overflows"]
        let rows = report.tensors.map { tensor -> [String] in
            let accuracy = tensor.accuracy
            return [tensor.name, tensor.sourceDType.rawValue, tensor.dtype.rawValue,
                    accuracy.map { scientific($0.maxAbsoluteError) } ?? "-",
                    accuracy.map { scientific($0.rmsError) } ?? "-",
                    accuracy.map { fixed($0.sqnrDecibels, digits: 1) } ?? "-",
                    accuracy.map { fixed($0.cosineSimilarity, digits: 6) } ?? "-",
                    String(tensor.overflowCount)]
        }
        var lines = TextTable.render(header: header, rows: rows, rightAligned: [3, 4, 5, 6, 7])
        lines.append("")
        lines.append("\(report.tensors.count) tensors converted, \(report.overflowCount) overflows")
        return lines.joined(separator: "\n")
    }

    /// "1.234e-03": four significant digits.
    static func scientific(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        guard value != 0 else { return "0" }
        var exponent = Int((log10(value.magnitude)).rounded(.down))
        var mantissa = value / pow(10, Double(exponent))
        if (mantissa.magnitude * 1000).rounded() >= 10_000 {
            exponent += 1
            mantissa /= 10
        }
        let sign = exponent < 0 ? "-" : "+"
        let digits = String(abs(exponent))
        return fixed(mantissa, digits: 3) + "e" + sign + (digits.count < 2 ? "0" : "") + digits
    }

    /// `value` with `digits` decimals; "inf" and "nan" spelled out.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        let scale = pow(10, Double(digits))
        let scaled = (value.magnitude * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled - Double(whole) * scale)
        var fractionText = String(fraction)
        fractionText = String(repeating: "0", count: max(0, digits - fractionText.count)) + fractionText
        return (value < 0 && scaled != 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + fractionText : "")
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
