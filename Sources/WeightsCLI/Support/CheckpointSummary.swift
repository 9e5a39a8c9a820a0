import Weights

/// What `inspect` reports about a source, independent of how it is printed.
struct CheckpointSummary {
    struct Row {
        var info: TensorInfo
        var file: String?
        /// The bytes the tensor takes in a compressed container.
        var compressedSize: Int?
    }

    var format: String
    /// The container format's version, for compressed containers.
    var formatVersion: Int?
    var fileSize: Int
    var headerSize: Int
    var metadata: [String: String]?
    var rows: [Row]
    /// The schemes of its quantized layers, if it is in one of the hub's quantized layouts.
    var quantization: [QuantizationSummary]

    init(_ source: any TensorSource) throws {
        metadata = source.metadata
        quantization = try QuantizationSummary.summaries(of: source)
        switch source {
        case let sharded as ShardedCheckpoint:
            format = "safetensors-sharded"
            fileSize = sharded.shards.reduce(0) { $0 + $1.fileSize }
            headerSize = sharded.shards.reduce(0) { $0 + $1.headerLength }
            rows = sharded.tensors.map { Row(info: $0, file: sharded.shard(of: $0.name)) }
        case let file as CompressedFile:
            format = CompressedFormat.name
            formatVersion = file.formatVersion
            fileSize = file.fileSize
            headerSize = file.headerLength
            rows = file.compressedTensors.map { Row(info: $0.info, compressedSize: $0.compressedSize) }
        case let file as SafetensorsFile:
            format = "safetensors"
            fileSize = file.fileSize
            headerSize = file.headerLength
            rows = file.tensors.map { Row(info: $0) }
        default:
            format = "unknown"
            fileSize = 0
            headerSize = 0
            rows = source.tensors.map { Row(info: $0) }
        }
    }

    func json() -> String {
        let tensors = rows.map { row -> JSONValue in
            var members: [(String, JSONValue)] = [
                ("name", .string(row.info.name)), ("dtype", .string(row.info.dtype.rawValue)),
                ("shape", .array(row.info.shape.map(JSONValue.int))),
                ("data_offsets", .array([.int(row.info.dataOffsets.lowerBound), .int(row.info.dataOffsets.upperBound)])),
            ]
            if let file = row.file { members.append(("file", .string(file))) }
            if let compressed = row.compressedSize { members.append(("compressed_size", .int(compressed))) }
            return .object(members)
        }
        var members: [(String, JSONValue)] = [
            ("format", .string(format)), ("file_size", .int(fileSize)), ("header_size", .int(headerSize)),
            ("metadata", .sortedStrings(metadata)), ("tensors", .array(tensors)),
        ]
        if let formatVersion { members.insert(("format_version", .int(formatVersion)), at: 1) }
        if !quantization.isEmpty {
            members.append(("quantization", .array(quantization.map { summary in
                .object([("scheme", .string(summary.scheme)), ("layers", .int(summary.layerCount)),
                         ("weights", .int(summary.weightCount)), ("stored_bytes", .int(summary.storedBytes)),
                         ("bits_per_weight", .double(summary.bitsPerWeight))])
            })))
        }
        return JSONValue.object(members).serialized()
    }

    func table() -> String {
        var columns = ["name", "dtype", "shape", "bytes", "offset"]
        if rows.contains(where: { $0.file != nil }) { columns.append("file") }
        let compressed = rows.contains { $0.compressedSize != nil }
        if compressed { columns += ["compressed", "ratio"] }
        let cells = rows.map { row -> [String] in
            var line = [row.info.name, row.info.dtype.rawValue, "[" + row.info.shape.map(String.init).joined(separator: ", ") + "]",
                        String(row.info.byteCount), String(row.info.dataOffsets.lowerBound)]
            if let file = row.file { line.append(file) }
            if let size = row.compressedSize {
                line += [String(size), formatRatio(size == 0 ? 1 : Double(row.info.byteCount) / Double(size))]
            }
            return line
        }
        var lines = TextTable.render(header: columns, rows: cells, rightAligned: compressed ? [3, 4, 5, 6] : [3, 4])
        lines.append("")
        let parameters = rows.reduce(0) { $0 + $1.info.elementCount }
        let version = formatVersion.map { " v\($0)" } ?? ""
        lines.append("\(format)\(version), \(formatBytes(fileSize)) (\(fileSize) bytes), header \(headerSize) bytes")
        lines.append("\(rows.count) tensors, \(parameters) parameters")
        if compressed {
            let raw = rows.reduce(0) { $0 + $1.info.byteCount }, stored = rows.reduce(0) { $0 + ($1.compressedSize ?? 0) }
            lines.append("tensor data \(formatBytes(raw)) stored in \(formatBytes(stored)) (\(formatRatio(Double(raw) / Double(max(stored, 1)))))")
        }
        var bytesByDType: [DType: (count: Int, bytes: Int)] = [:]
        for row in rows { bytesByDType[row.info.dtype, default: (0, 0)].count += 1; bytesByDType[row.info.dtype]!.bytes += row.info.byteCount }
        for dtype in bytesByDType.keys.sorted(by: { $0.rank > $1.rank }) {
            let (count, bytes) = bytesByDType[dtype]!
            lines.append("  \(dtype): \(count) tensors, \(bytes) bytes (\(formatBytes(bytes)))")
        }
        for summary in quantization {
            lines.append("quantized: \(summary.scheme): \(summary.layerCount) layer\(summary.layerCount == 1 ? "" : "s"), "
                + "\(summary.weightCount) weights, \(formatBitsPerWeight(summary.bitsPerWeight)) bits per weight (values and scales)")
        }
        if let metadata, !metadata.isEmpty {
            lines.append("metadata:")
            for key in metadata.keys.sorted() { lines.append("  \(key): \(Self.shortened(metadata[key]!))") }
        } else {
            lines.append("metadata: none")
        }
        return lines.joined(separator: "\n")
    }
}

/// Bits per weight with up to three decimals, trailing zeros dropped: 4.125, 8.5, 4.
private func formatBitsPerWeight(_ value: Double) -> String {
    let rounded = (value * 1000).rounded() / 1000
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}

extension CheckpointSummary {
    /// A metadata value for the table: whole up to 200 characters, else its start and its
    /// length (a GGUF file's typed metadata, kept as JSON, is megabytes; --json has it all).
    static func shortened(_ value: String) -> String {
        guard value.count > 200 else { return value }
        return "\(value.prefix(120))… (\(value.utf8.count) bytes; --json shows it whole)"
    }
}
