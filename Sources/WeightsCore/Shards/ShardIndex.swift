/// The index of a sharded checkpoint, `model.safetensors.index.json`: which shard file holds
/// each tensor, and the total size of all tensors.
///
/// Written as `transformers` writes it: JSON indented by 2, keys sorted, non-ASCII escaped,
/// a final newline:
///
/// ```json
/// {
///   "metadata": {
///     "total_size": 16
///   },
///   "weight_map": {
///     "a": "model-00001-of-00002.safetensors",
///     "b": "model-00002-of-00002.safetensors"
///   }
/// }
/// ```
public struct ShardIndex: Sendable, Hashable {
    /// The sum of every tensor's byte size, as the index declares it (`nil` when absent).
    public var totalSize: Int?
    /// Tensor name to shard file name (relative to the index's directory).
    public var weightMap: [String: String]

    public init(totalSize: Int?, weightMap: [String: String]) {
        self.totalSize = totalSize
        self.weightMap = weightMap
    }

    /// The most shard files an index may name (Spec/limits.md). Each shard is mapped and keeps
    /// a descriptor open while the checkpoint is (for ``ByteStorage/checkUnchanged()``), and the
    /// SIGBUS guard has this many slots.
    public static let maximumShardCount = 4096
    /// The largest index file read (100,000,000 bytes, as for a safetensors header): parsing
    /// builds a value per JSON node, so memory grows with the file.
    public static let maximumLength = 100_000_000

    /// Shard file names, sorted, each once.
    public var shardFiles: [String] { Set(weightMap.values).sorted(by: utf8Precedes) }

    /// Parses index JSON. Extra keys, and extra metadata keys, are accepted.
    ///
    /// - Throws: `invalidShardIndex` when `weight_map` is missing or not an object of strings;
    ///   `limitExceeded` for an index over ``maximumLength`` bytes or naming more than
    ///   ``maximumShardCount`` shards.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> ShardIndex {
        guard bytes.count <= maximumLength else {
            throw WeightsError(.limitExceeded, "index of \(bytes.count) bytes is over the limit of \(maximumLength)")
        }
        let json: JSONValue
        // Sound: the caller's bytes, parsed within the call; the result holds no pointer into them.
        do { json = unsafe try JSONValue.parse(bytes) } catch let error as WeightsError {
            throw WeightsError(.invalidShardIndex, "index is not valid JSON: \(error.reason)", offset: error.offset)
        }
        guard case .object(let entries)? = json["weight_map"] else {
            throw WeightsError(.invalidShardIndex, "index has no \"weight_map\" object")
        }
        var weightMap: [String: String] = [:]
        for (name, value) in entries {
            guard case .string(let file) = value, !file.isEmpty else {
                throw WeightsError(.invalidShardIndex, "weight_map entry for '\(name)' is not a file name", tensor: name)
            }
            guard !file.contains("/"), file != "..", file != "." else {
                throw WeightsError(.invalidShardIndex, "shard '\(file)' for '\(name)' is not a plain file name", tensor: name)
            }
            weightMap[name] = file
        }
        let shardCount = Set(weightMap.values).count
        guard shardCount <= maximumShardCount else {
            throw WeightsError(.limitExceeded,
                "weight_map names \(shardCount) shard files, over the limit of \(maximumShardCount)")
        }
        var totalSize: Int?
        if case .number(let text)? = json["metadata"]?["total_size"] { totalSize = Int(text) }
        return ShardIndex(totalSize: totalSize, weightMap: weightMap)
    }

    /// The index file's bytes.
    public func encoded() -> [UInt8] {
        var out = "{\n  \"metadata\": {\n"
        if let totalSize { out += "    \"total_size\": \(totalSize)\n" }
        out += "  },\n  \"weight_map\": {"
        let names = weightMap.keys.sorted(by: utf8Precedes)
        for (position, name) in names.enumerated() {
            out += position == 0 ? "\n" : ",\n"
            out += "    \(Self.pythonJSONString(name)): \(Self.pythonJSONString(weightMap[name]!))"
        }
        out += names.isEmpty ? "}\n}\n" : "\n  }\n}\n"
        return Array(out.utf8)
    }

    /// A string quoted as Python's `json.dumps` quotes it by default (`ensure_ascii`).
    static func pythonJSONString(_ string: String) -> String {
        var out = "\""
        for unit in string.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(unit)!)
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }
}
