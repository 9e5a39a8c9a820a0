/// A checkpoint in one of the hub's quantized layouts (``HubQuantizedLayout``) seen with its
/// quantized layers dequantized: each layer's stored tensors (`P.weight_packed`,
/// `P.weight_scale`, …) become the one weight they stand for, `P.weight`, in the scale's dtype
/// (F32 for DeepSeek-V3's FP8). Every other tensor is passed through as it is.
///
/// ``TensorConverter`` reads sources through it, so that `weights convert --dtype
/// f32|f16|bf16` turns a compressed-tensors or DeepSeek-V3 FP8 checkpoint into a plain one.
///
/// ```swift
/// let plain = try DequantizedSource(Checkpoint.open("w4a16/model.safetensors"))
/// let weight = try plain.tensor(named: "model.layers.0.mlp.down_proj.weight")   // BF16, the original shape
/// ```
///
/// Tensors are listed in the source's order, each layer's weight where its first stored tensor
/// was; `dataOffsets` count through the presented bytes, as if written one after another.
public final class DequantizedSource: TensorSource {
    /// The checkpoint as stored.
    public let source: any TensorSource
    /// Its quantized layers, by prefix.
    public let layers: [String: HubQuantizedLayout.Layer]
    public let tensors: [TensorInfo]
    public var path: String { source.path }
    public var metadata: [String: String]? { source.metadata }
    /// Presented name to the layer it dequantizes, for the layers' weights.
    private let layerOfWeight: [String: HubQuantizedLayout.Layer]
    private let names: Set<String>

    /// Finds the quantized layers of `source`.
    ///
    /// - Throws: `invalidData` naming the file and tensor when a layer's tensors do not fit
    ///   together.
    /// - Complexity: O(*n*) in the tensors; nothing is read but the layers' `weight_shape`.
    public init(_ source: any TensorSource) throws {
        self.source = source
        let layers = try WeightsError.tagging(file: source.path) { try HubQuantizedLayout.layers(in: source) }
        self.layers = layers
        var partOf: [String: HubQuantizedLayout.Layer] = [:]
        for layer in layers.values { for part in layer.parts { partOf[part] = layer } }
        var infos: [TensorInfo] = [], byWeight: [String: HubQuantizedLayout.Layer] = [:], offset = 0
        for info in source.tensors {
            let descriptor: TensorDescriptor
            if let layer = partOf[info.name] {
                guard info.name == layer.parts[0] else { continue }
                descriptor = layer.weight
                byWeight[layer.weight.name] = layer
            } else {
                descriptor = TensorDescriptor(name: info.name, dtype: info.dtype, shape: info.shape)
            }
            let size = try WeightsError.tagging(file: source.path) { try descriptor.byteCount() }
            infos.append(TensorInfo(name: descriptor.name, dtype: descriptor.dtype, shape: descriptor.shape,
                                    dataOffsets: offset..<offset + size))
            offset += size
        }
        tensors = infos
        layerOfWeight = byWeight
        names = Set(infos.map(\.name))
    }

    /// Whether `source` holds any quantized layer this type dequantizes.
    public var isQuantized: Bool { !layers.isEmpty }

    /// The tensor `name`: a layer's weight dequantized, or the source's tensor.
    ///
    /// - Complexity: O(*n*) time and memory for a layer's weight; O(1) otherwise.
    public func tensor(named name: String) throws -> Tensor {
        guard let layer = layerOfWeight[name] else {
            guard names.contains(name) else {
                throw WeightsError(.tensorNotFound, "no tensor named '\(name)'", file: path, tensor: name)
            }
            return try source.tensor(named: name)
        }
        return try WeightsError.tagging(file: path) { try HubDequantizer.weight(of: layer, reading: source.tensor(named:)) }
    }

    public func checkUnchanged() throws { try source.checkUnchanged() }
}
