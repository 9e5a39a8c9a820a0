/// The quantized layers of a checkpoint grouped by scheme, with what they cost in storage:
/// what `weights inspect` prints for a checkpoint in the hub's layouts.
///
/// ```swift
/// let summaries = try QuantizationSummary.summaries(of: Checkpoint.open("w4a16.safetensors"))
/// summaries[0].scheme          // "compressed-tensors pack-quantized int4, symmetric, group 128"
/// summaries[0].bitsPerWeight   // 4.125 for BF16 scales: 4 bits a value, 16 bits per 128 values
/// ```
public struct QuantizationSummary: Sendable, Hashable {
    /// The scheme in words: the library, its format, the value type, and the scales' extent.
    public var scheme: String
    /// The layers stored in it.
    public var layerCount: Int
    /// The entries of their weights.
    public var weightCount: Int
    /// The bytes their quantized values, scales and zero points take (not `weight_shape`).
    public var storedBytes: Int

    /// Stored bits per weight entry, scales and zero points included.
    public var bitsPerWeight: Double { weightCount == 0 ? 0 : Double(storedBytes * 8) / Double(weightCount) }

    /// The schemes of `source`'s quantized layers (``HubQuantizedLayout``), most weights first;
    /// empty for a plain checkpoint.
    ///
    /// A layer whose group is its whole row is per channel unless the checkpoint's
    /// `quantization_config` metadata names that group size.
    ///
    /// - Throws: `invalidData` when a layer's tensors do not fit together.
    /// - Complexity: O(*n*) in the tensors.
    public static func summaries(of source: any TensorSource) throws -> [QuantizationSummary] {
        let layers = try WeightsError.tagging(file: source.path) { try HubQuantizedLayout.layers(in: source) }
        let sizes = Dictionary(source.tensors.map { ($0.name, $0.byteCount) }, uniquingKeysWith: { first, _ in first })
        let configured = configuredGroupSize(source.metadata?[HubQuantizer.configMetadataKey])
        var byScheme: [String: QuantizationSummary] = [:]
        for layer in layers.values {
            let name = describe(layer, configuredGroupSize: configured)
            let weights = layer.weight.shape.reduce(1, *)
            let bytes = layer.parts.filter { !$0.hasSuffix(".weight_shape") }.reduce(0) { $0 + (sizes[$1] ?? 0) }
            byScheme[name, default: QuantizationSummary(scheme: name, layerCount: 0, weightCount: 0, storedBytes: 0)].layerCount += 1
            byScheme[name]!.weightCount += weights
            byScheme[name]!.storedBytes += bytes
        }
        return byScheme.values.sorted { ($0.weightCount, $1.scheme) > ($1.weightCount, $0.scheme) }
    }

    static func describe(_ layer: HubQuantizedLayout.Layer, configuredGroupSize: Int?) -> String {
        switch layer.layout {
        case .packedIntegers(let bits, let groupSize, let symmetric):
            let columns = layer.weight.shape[1]
            let extent = groupSize == columns && configuredGroupSize != groupSize ? "per channel" : "group \(groupSize)"
            return "compressed-tensors pack-quantized int\(bits), \(symmetric ? "symmetric" : "asymmetric"), \(extent)"
        case .scaledFP8(let granularity):
            let extent = switch granularity {
            case .tensor: "per tensor"
            case .row: "per channel"
            case .block(let size): "\(size)×\(size) blocks"
            }
            return "compressed-tensors float-quantized f8_e4m3, \(extent)"
        case .blockScaledFP8:
            let size = HubQuantizedLayout.blockSize
            return "DeepSeek-V3 f8_e4m3, \(size)×\(size) blocks (weight_scale_inv)"
        }
    }

    /// The first `"group_size": N` of a `quantization_config` JSON text.
    static func configuredGroupSize(_ config: String?) -> Int? {
        guard let config, let key = config.firstRange(of: "\"group_size\"") else { return nil }
        let rest = config[key.upperBound...].drop { $0 == " " || $0 == ":" || $0 == "\n" }
        return Int(rest.prefix { $0.isNumber })
    }
}
