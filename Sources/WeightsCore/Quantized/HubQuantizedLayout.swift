/// How one layer of a checkpoint from the model hub stores a quantized weight, found from the
/// names, dtypes and shapes of its tensors (`Spec/quantized-layouts.md`).
///
/// | layout | tensors of layer `P` | dequantized `P.weight` |
/// |---|---|---|
/// | ``packedIntegers(bits:groupSize:symmetric:)`` (compressed-tensors `pack-quantized`) | `P.weight_packed` I32, `P.weight_scale`, `P.weight_shape` I64 [2], `P.weight_zero_point` I32 when asymmetric | `(q − zero) × scale`, in the scale's dtype |
/// | ``scaledFP8(_:)`` (compressed-tensors `float-quantized`) | `P.weight` F8_E4M3, `P.weight_scale` per tensor, per row or per 128 × 128 block | `weight × scale`, in the scale's dtype |
/// | ``blockScaledFP8`` (DeepSeek-V3) | `P.weight` F8_E4M3, `P.weight_scale_inv` F32, one per 128 × 128 block | `weight × scale_inv`, in F32 |
///
/// ```swift
/// let source = try Checkpoint.open("w4a16/model.safetensors")
/// let layers = try HubQuantizedLayout.layers(in: source)
/// layers["model.layers.0.mlp.down_proj"]?.layout   // .packedIntegers(bits: 4, groupSize: 128, symmetric: true)
/// ```
public enum HubQuantizedLayout: Sendable, Hashable {
    /// Which entries of an FP8 weight a scale covers.
    public enum Granularity: Sendable, Hashable {
        /// One scale for the tensor.
        case tensor
        /// One scale per row (output channel).
        case row
        /// One scale per `size` × `size` block; edge blocks are partial.
        case block(size: Int)
    }

    /// Integers of `bits` bits packed into I32 words, one scale per `groupSize` entries of a row
    /// (the row's length for per-channel scales), with zero points unless `symmetric`.
    case packedIntegers(bits: Int, groupSize: Int, symmetric: Bool)
    /// F8_E4M3 weights times a scale of the given granularity.
    case scaledFP8(Granularity)
    /// F8_E4M3 weights times an F32 scale per 128 × 128 block (`weight_scale_inv`).
    case blockScaledFP8

    /// The block of the FP8 layouts, DeepSeek-V3's and compressed-tensors' default.
    public static let blockSize = 128

    /// One quantized layer: its layout, the tensors that store it, and the weight they stand for.
    public struct Layer: Sendable, Hashable {
        /// The layer's prefix: `P` in `P.weight_packed`.
        public var prefix: String
        public var layout: HubQuantizedLayout
        /// The weight the layer's tensors dequantize to: `P.weight`, in the scale's dtype (F32
        /// for ``blockScaledFP8``), of the original shape.
        public var weight: TensorDescriptor
        /// The stored tensors, in the order the layout names them: the quantized values, the
        /// scales, then the shape and the zero points where there are any.
        public var parts: [String]
    }

    /// The quantized layers of `source`, by prefix; empty when it holds none.
    ///
    /// - Complexity: O(*n*) in the tensors.
    /// - Throws: `invalidData` naming the tensor when a layer's tensors are present but do not
    ///   fit together (a scale of the wrong shape, a bit width the packed size does not give).
    public static func layers(in source: any TensorSource) throws -> [String: Layer] {
        var byName: [String: TensorInfo] = [:]
        for info in source.tensors { byName[info.name] = info }
        var layers: [String: Layer] = [:]
        for info in source.tensors {
            if let prefix = info.name.strippingSuffix(".weight_packed") {
                layers[prefix] = try packedLayer(prefix, values: info, byName, source: source)
            } else if let prefix = info.name.strippingSuffix(".weight"), info.dtype == .f8E4M3 {
                if let scales = byName[prefix + ".weight_scale_inv"] {
                    layers[prefix] = try fp8Layer(prefix, values: info, scales: scales, layout: .blockScaledFP8)
                } else if let scales = byName[prefix + ".weight_scale"] {
                    layers[prefix] = try fp8Layer(prefix, values: info, scales: scales, layout: nil)
                }
            }
        }
        return layers
    }

    private static func packedLayer(_ prefix: String, values: TensorInfo, _ byName: [String: TensorInfo],
                                    source: any TensorSource) throws -> Layer {
        func fail(_ reason: String, _ tensor: String) -> WeightsError {
            WeightsError(.invalidData, "tensor '\(tensor)': \(reason)", file: source.path, tensor: tensor)
        }
        let scaleName = prefix + ".weight_scale", shapeName = prefix + ".weight_shape", zeroName = prefix + ".weight_zero_point"
        guard values.dtype == .i32, values.shape.count == 2 else { throw fail("is \(values.dtype) \(values.shape), not I32 of rank 2", values.name) }
        guard let scales = byName[scaleName], FloatFormat(scales.dtype) != nil, scales.shape.count == 2 else {
            throw fail("needs a floating '\(scaleName)' of rank 2", values.name)
        }
        guard let shapeInfo = byName[shapeName], shapeInfo.dtype == .i64, shapeInfo.shape == [2] else {
            throw fail("needs '\(shapeName)', I64 [2]", values.name)
        }
        let dims = try source.tensor(named: shapeName).elements(of: Int64.self)
        guard dims.allSatisfy({ $0 > 0 && $0 <= Int64(Int32.max) }) else { throw fail("holds the shape \(dims)", shapeName) }
        let rows = Int(dims[0]), columns = Int(dims[1])
        // The packed width ceil(columns × bits / 32) grows with bits, by at least one word per
        // bit for rows of 32 entries or more: one width, one bit count. Shorter rows may fit
        // several; compressed-tensors' widths are 8, 4 and 2 bits, so one of those is taken.
        let words = values.shape[1]
        let fitting = (1...8).filter { (columns * $0 + 31) / 32 == words }
        let candidates = fitting.count > 1 ? fitting.filter { [2, 4, 8].contains($0) } : fitting
        guard values.shape[0] == rows, candidates.count == 1, let bits = candidates.first else {
            throw fail("\(values.shape) does not pack \(rows) rows of \(columns) entries at one bit width from 1 to 8", values.name)
        }
        let groups = scales.shape[1]
        guard scales.shape[0] == rows, groups >= 1, columns % groups == 0 else {
            throw fail("has shape \(scales.shape), which does not divide \(rows) × \(columns) into groups", scaleName)
        }
        var parts = [values.name, scaleName, shapeName]
        if let zeros = byName[zeroName] {
            guard zeros.dtype == .i32, zeros.shape == [(rows * bits + 31) / 32, groups] else {
                throw fail("is \(zeros.dtype) \(zeros.shape), not I32 [\((rows * bits + 31) / 32), \(groups)]", zeroName)
            }
            parts.append(zeroName)
        }
        return Layer(prefix: prefix, layout: .packedIntegers(bits: bits, groupSize: columns / groups, symmetric: parts.count == 3),
                     weight: TensorDescriptor(name: prefix + ".weight", dtype: scales.dtype, shape: [rows, columns]),
                     parts: parts)
    }

    private static func fp8Layer(_ prefix: String, values: TensorInfo, scales: TensorInfo,
                                 layout: HubQuantizedLayout?) throws -> Layer {
        func fail(_ reason: String) -> WeightsError {
            WeightsError(.invalidData, "tensor '\(scales.name)': \(reason)", tensor: scales.name)
        }
        guard values.shape.count == 2, FloatFormat(scales.dtype) != nil else {
            throw fail("scales \(values.dtype) \(values.shape) with \(scales.dtype); expected a floating scale of a matrix")
        }
        let rows = values.shape[0], columns = values.shape[1], size = blockSize
        let blocks = [(rows + size - 1) / size, (columns + size - 1) / size]
        let found: HubQuantizedLayout
        if layout == .blockScaledFP8 {
            guard scales.shape == blocks, scales.dtype == .f32 else { throw fail("is \(scales.dtype) \(scales.shape), not F32 \(blocks)") }
            found = .blockScaledFP8
        } else if scales.shape.reduce(1, *) == 1, scales.shape.count <= 2 {
            found = .scaledFP8(.tensor)
        } else if scales.shape == [rows, 1] {
            found = .scaledFP8(.row)
        } else if scales.shape == blocks {
            found = .scaledFP8(.block(size: size))
        } else {
            throw fail("has shape \(scales.shape): not one scale, one per row ([\(rows), 1]) or one per block (\(blocks))")
        }
        let dtype = found == .blockScaledFP8 ? DType.f32 : scales.dtype
        return Layer(prefix: prefix, layout: found, weight: TensorDescriptor(name: values.name, dtype: dtype, shape: values.shape),
                     parts: [values.name, scales.name])
    }
}

extension String {
    func strippingSuffix(_ suffix: String) -> String? {
        hasSuffix(suffix) && count > suffix.count ? String(dropLast(suffix.count)) : nil
    }
}
