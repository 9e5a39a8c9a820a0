import ArgumentParser
import Weights

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Rewrite weights as a canonical safetensors file, a sharded set, or a GGUF file.",
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
            int4 and f8_e4m3 write the Linear weights (2-D NAME.weight tensors other than \
            embeddings, norms and lm_head) in compressed-tensors' layouts, as its W4A16 and \
            FP8_DYNAMIC presets do: int4 as pack-quantized symmetric INT4 with one scale per \
            --group-size entries (default 128; a weight whose rows do not split into whole \
            groups is kept and listed in `ignore`), f8_e4m3 as float-quantized F8_E4M3 with one \
            scale per row; scales keep the weight's dtype, and the output's metadata carries \
            the quantization_config for config.json. When the output's directory holds a \
            config.json, or the input is a model directory with one, the output directory's \
            config.json gets that quantization_config (the other keys kept), so that vLLM and \
            transformers load the result; converting a quantized checkpoint to f32, f16 or \
            bf16 removes it there. int4 loses much on small models (all-MiniLM-L6-v2: minimum \
            cosine 0.922 to sentence-transformers in groups of 128): it is meant for large \
            ones. A compressed-tensors or DeepSeek-V3 FP8 input is dequantized first; \
            converting it to f32, f16 or bf16 gives plain weights. \
            --report prints, for each converted tensor, the max abs error, RMS error, SQNR \
            and cosine similarity against the source (--json: as one JSON object).

            A .gguf input is dequantized to f32 unless --dtype says otherwise; shapes become \
            row-major, names stay, and the GGUF metadata, arrays and types included, is kept as \
            JSON under the "gguf.metadata" key of the output's __metadata__, so that converting \
            back restores it. An OUT ending in .gguf is written as GGUF: --dtype f32, f16, bf16, \
            q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k or mxfp4 sets the type of floating tensors of \
            rank 2 or more (1-D tensors and norms stay f32, as llama.cpp keeps them; rows that \
            are not whole blocks fall back to q5_0, q8_0 or f16); without it floating tensors \
            keep their type. general.architecture (--architecture, the carried value, or \
            "unknown") and general.alignment are written. q8_0 to q5_1 and mxfp4 give gguf-py's \
            bytes; q4_k and q6_k follow llama.cpp's reference quantizer.
            """
    )

    @Argument(help: "Input: a .safetensors or .gguf file, an index.json, or a model directory.")
    var input: String

    @Argument(help: "Output file (.gguf for GGUF), or with --shard-size the index path or directory.")
    var output: String

    @Option(help: "Split the output into shards of at most this much tensor data (e.g. 5GB, 500MB, 2GiB, 1000000).",
            transform: ByteSize.parse)
    var shardSize: Int?

    @Option(help: "Convert floating tensors to f32, f16, bf16, int8, int4 or f8_e4m3 (GGUF output: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k, mxfp4).")
    var dtype: String?

    @Option(help: "With --dtype int4: entries of a row per scale (default 128).")
    var groupSize: Int?

    @Option(help: "GGUF output: the general.architecture to write (default: the carried value, or 'unknown').")
    var architecture: String?

    @Flag(help: "With --dtype: print each converted tensor's error against the source.")
    var report = false

    @Flag(help: "With --report: print the report as JSON.")
    var json = false

    @Flag(help: "Record each tensor's SHA-256 and the content digest in the output's metadata, for `weights verify`.")
    var embedDigests = false

    /// Whether the output is a GGUF file.
    private var writesGGUF: Bool { output.lowercased().hasSuffix(".gguf") }

    func validate() throws {
        if writesGGUF {
            if shardSize != nil || embedDigests || report {
                throw ValidationError("a .gguf output is one file without --shard-size, --embed-digests or --report")
            }
            if let dtype { _ = try parseGGMLType(dtype) }
            return
        }
        if architecture != nil { throw ValidationError("--architecture is for a .gguf output") }
        if let dtype { _ = try parseTarget(dtype) }
        if let groupSize {
            guard case .int4? = dtype.flatMap(ConversionTarget.init) else { throw ValidationError("--group-size is for --dtype int4") }
            guard groupSize > 0 else { throw ValidationError("--group-size must be positive") }
        }
        if report, dtype == nil { throw ValidationError("--report needs --dtype") }
        if json, !report { throw ValidationError("--json needs --report") }
        if embedDigests, shardSize != nil {
            throw ValidationError("--embed-digests writes one file; it cannot be combined with --shard-size")
        }
    }

    func run() throws {
        var source = try openSource(input)
        // A GGUF input keeps its typed metadata, so that it reaches the output.
        let fromGGUF = source is GGUFTensorSource || source is GGUFSplitSource
        if let gguf = source as? GGUFTensorSource {
            source = try GGUFTensorSource(gguf.file, keepingTypedMetadata: true)
        } else if let split = source as? GGUFSplitSource {
            source = try GGUFSplitSource(files: split.files, keepingTypedMetadata: true)
        }
        if writesGGUF {
            let converter = try GGUFConverter(source: source, type: try dtype.map(parseGGMLType), architecture: architecture)
            try WeightsError.tagging(file: output) { try converter.write(to: output) }
            return
        }
        // GGUF blocks are decoded to f32 unless told otherwise.
        var dtype = try self.dtype.map(parseTarget) ?? (fromGGUF ? .float(.f32) : nil)
        if case .int4? = dtype, let groupSize { dtype = .int4(groupSize: groupSize) }
        if let dtype {
            try convert(source, to: dtype)
        } else if let shardSize {
            try ShardedWriter.write(source, to: shardDirectory, maximumShardSize: shardSize)
        } else if embedDigests {
            try EmbeddedDigests.write(source, to: output)
        } else {
            try source.write(to: output)
        }
    }

    /// The directory of a sharded output, given as the directory or as its index's path.
    private var shardDirectory: String {
        output.hasSuffix(".index.json") ? parentDirectory(of: output) : output
    }
}

extension ConvertCommand {
    private func convert(_ source: any TensorSource, to target: ConversionTarget) throws {
        let converter = try TensorConverter(source: source, target: target)
        let converted = converter.convertedSource(measuringAccuracy: report)
        if let shardSize {
            try ShardedWriter.write(converted, to: shardDirectory, maximumShardSize: shardSize, metadata: converter.metadata)
        } else if embedDigests {
            try EmbeddedDigests.write(converted, to: output)
        } else {
            try converted.write(to: output)
        }
        let result = converted.report
        for tensor in result.tensors where tensor.overflowCount > 0 {
            Terminal.printError("warning: \(input): tensor '\(tensor.name)': \(tensor.overflowCount) finite "
                + "value\(tensor.overflowCount == 1 ? "" : "s") overflowed to infinity in \(tensor.dtype)")
        }
        if report { print(json ? result.json() : ConversionTable.render(result)) }
        try updateConfiguration(converter)
    }

    /// Writes the compressed-tensors `quantization_config` of an int4 or f8_e4m3 conversion
    /// into the output directory's `config.json` (the one there, else the input directory's),
    /// or removes it when a quantized checkpoint is dequantized to a float dtype; nothing when
    /// neither directory has a `config.json` to start from.
    private func updateConfiguration(_ converter: TensorConverter) throws {
        let quantization: String?
        switch converter.target {
        case .int4, .fp8E4M3:
            guard let text = converter.metadata?[QuantizationConfigFile.key] else { return }
            quantization = text
        case .float where converter.source is DequantizedSource:
            quantization = nil
        default:
            return
        }
        let directory = shardSize != nil ? shardDirectory : parentDirectory(of: output)
        let destination = directory + "/config.json"
        let inputConfiguration = input + "/config.json"
        let origin = Checkpoint.fileExists(destination) ? destination
            : Checkpoint.isDirectory(input) && Checkpoint.fileExists(inputConfiguration) ? inputConfiguration : nil
        guard let origin else { return }
        guard try QuantizationConfigFile.update(from: origin, to: destination, quantizationConfig: quantization) else { return }
        Terminal.printError("\(quantization == nil ? "removed" : "wrote") quantization_config in \(destination)")
    }
}

private func parseGGMLType(_ text: String) throws -> GGMLType {
    guard let type = GGMLType(name: text), GGUFConverter.targetTypes.contains(type) else {
        throw ValidationError("unknown dtype '\(text)' for a GGUF output: expected "
            + GGUFConverter.targetTypes.map { $0.name.lowercased() }.joined(separator: ", "))
    }
    return type
}

private func parseTarget(_ text: String) throws -> ConversionTarget {
    guard let target = ConversionTarget(text) else {
        throw ValidationError("unknown dtype '\(text)': expected f32, f16, bf16, int8, int4 or f8_e4m3")
    }
    return target
}
