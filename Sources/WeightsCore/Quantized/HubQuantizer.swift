/// Writes weights in compressed-tensors' layouts, the inverse of ``HubDequantizer``: the
/// scheme behind `weights convert --dtype int4|f8_e4m3` (`Spec/quantized-layouts.md`).
///
/// | scheme | tensors of layer `P` | compressed-tensors preset |
/// |---|---|---|
/// | ``Scheme/int4(groupSize:)`` | `P.weight_packed` I32 `[out, in/8]`, `P.weight_scale` `[out, in/group]`, `P.weight_shape` I64 [2] | W4A16 (`pack-quantized`) |
/// | ``Scheme/fp8PerChannel`` | `P.weight` F8_E4M3, `P.weight_scale` `[out, 1]` | FP8_DYNAMIC (`float-quantized`) |
///
/// Scales are in the weight's dtype and every step is computed as compressed-tensors computes
/// it with torch on a CPU, rounding to the weight's dtype after each operation, so that the
/// bytes are the library's:
///
/// - `scale = R(max|w| / m)` over a group (INT4, `m` = 7.5, half of the 15 steps from −8 to 7)
///   or a row (FP8, `m` = 448); a zero scale becomes the dtype's machine epsilon;
/// - INT4: `q = clamp(roundEven(R(w / scale)), −8, 7)`, stored as `q + 8`, eight to a word,
///   the first entry in the low bits;
/// - FP8: `q = E4M3(clamp(R(w / scale), −448, 448))`, rounded to nearest even.
///
/// `R` rounds to the weight's dtype (F32, F16 or BF16). A quotient of two such values,
/// correctly rounded to `Float` and then rounded to F16 or BF16, is what torch's CPU kernels
/// produce, since they divide in `Float`.
package enum HubQuantizer {
    /// A compressed-tensors weight scheme this writer produces.
    package enum Scheme: Sendable, Hashable, CustomStringConvertible {
        /// Symmetric INT4 with one scale per `groupSize` entries of a row.
        case int4(groupSize: Int)
        /// F8_E4M3 with one scale per row.
        case fp8PerChannel

        /// "int4 (group 128)", "f8_e4m3 (per channel)": the label of `--report`.
        package var description: String {
            switch self {
            case .int4(let groupSize): "int4 (group \(groupSize))"
            case .fp8PerChannel: "f8_e4m3 (per channel)"
            }
        }
    }

    /// The quantized form of one weight, and its values as compressed-tensors' `decompress`
    /// gives them back (`q × scale` rounded to the weight's dtype), as `Float`.
    package struct Quantized: Sendable {
        package var parts: [Tensor]
        package var restored: [Float]
    }

    /// Whether the tensor `info` is quantized under `scheme`, and if not, why not (`nil` when
    /// it is). Quantized: an F32, F16 or BF16 `….weight` of rank 2 that stands for a Linear
    /// layer (neither an embedding, a norm nor `lm_head`), whose rows split into whole groups.
    ///
    /// A safetensors file does not record module types: the name decides, as compressed-tensors'
    /// `targets: ["Linear"]` with `ignore: ["lm_head"]` decides on the module.
    package static func exclusion(of info: TensorInfo, scheme: Scheme) -> Exclusion? {
        guard let prefix = info.name.strippingSuffix(".weight"), info.shape.count == 2,
              [.f32, .f16, .bf16].contains(info.dtype) else { return .notAWeightMatrix }
        let module = prefix.split(separator: ".").last.map(String.init) ?? prefix
        let lowered = module.lowercased()
        if lowered.contains("embed") || lowered == "wte" || lowered == "wpe" || lowered.contains("norm") {
            return .notALinearLayer
        }
        if module == "lm_head" { return .ignored }
        if case .int4(let groupSize) = scheme, info.shape[1] % groupSize != 0 { return .partialGroup }
        return nil
    }

    /// Why a tensor is left as it is.
    package enum Exclusion: Sendable, Hashable {
        /// Not a floating `….weight` of rank 2 (biases, norms' vectors, integer tensors, F64).
        case notAWeightMatrix
        /// An embedding or norm matrix, which the `Linear` target does not take.
        case notALinearLayer
        /// `lm_head`, which compressed-tensors' recipes leave unquantized.
        case ignored
        /// A Linear weight whose rows do not split into whole groups: named in `ignore`, so
        /// that loaders read it unquantized.
        case partialGroup
    }

    /// The tensors `scheme` writes for the weight `info`, in order.
    package static func outputs(for info: TensorInfo, scheme: Scheme) -> [TensorDescriptor] {
        let prefix = String(info.name.dropLast(".weight".count)), rows = info.shape[0], columns = info.shape[1]
        switch scheme {
        case .int4(let groupSize):
            return [TensorDescriptor(name: prefix + ".weight_packed", dtype: .i32, shape: [rows, (columns * 4 + 31) / 32]),
                    TensorDescriptor(name: prefix + ".weight_scale", dtype: info.dtype, shape: [rows, columns / groupSize]),
                    TensorDescriptor(name: prefix + ".weight_shape", dtype: .i64, shape: [2])]
        case .fp8PerChannel:
            return [TensorDescriptor(name: prefix + ".weight", dtype: .f8E4M3, shape: [rows, columns]),
                    TensorDescriptor(name: prefix + ".weight_scale", dtype: info.dtype, shape: [rows, 1])]
        }
    }

    /// Quantizes the weight `tensor` under `scheme`.
    ///
    /// - Throws: `invalidData` naming the tensor when it holds NaN or an infinity.
    /// - Complexity: O(*n*) time and memory in the weight's entries.
    package static func quantize(_ tensor: Tensor, scheme: Scheme) throws -> Quantized {
        let rows = tensor.shape[0], columns = tensor.shape[1]
        let values = try tensor.floats()
        let dtype = tensor.dtype
        guard values.allSatisfy(\.isFinite) else {
            throw WeightsError(.invalidData, "tensor '\(tensor.name)' holds NaN or infinity, which a scale cannot cover",
                               tensor: tensor.name)
        }
        let round = rounding(to: dtype)
        let epsilon = machineEpsilon(of: dtype)
        let groupSize = if case .int4(let size) = scheme { size } else { columns }
        let groups = columns / groupSize
        let levels: Float = if case .int4 = scheme { 7.5 } else { 448 }
        var scales = [Float](repeating: 0, count: rows * groups)
        var restored = [Float](repeating: 0, count: values.count)
        var packed = [Int32](), fp8 = [UInt8]()
        if case .int4 = scheme { packed = [Int32](repeating: 0, count: rows * ((columns * 4 + 31) / 32)) }
        else { fp8 = [UInt8](repeating: 0, count: values.count) }
        let words = (columns * 4 + 31) / 32
        for row in 0..<rows {
            for group in 0..<groups {
                let start = row * columns + group * groupSize
                var largest: Float = 0
                for index in start..<start + groupSize { largest = max(largest, values[index].magnitude) }
                var scale = round(largest / levels)
                if scale == 0 { scale = epsilon }
                scales[row * groups + group] = scale
                for index in start..<start + groupSize {
                    let scaled = round(values[index] / scale)
                    switch scheme {
                    case .int4:
                        let q = min(max(scaled, -8), 7).rounded(.toNearestOrEven)
                        let column = index - row * columns
                        packed[row * words + column / 8] |= Int32(bitPattern: UInt32(Int(q) + 8) << UInt32(4 * (column % 8)))
                        restored[index] = round(q * scale)
                    case .fp8PerChannel:
                        let byte = Float8.e4m3(min(max(scaled, -448), 448))
                        fp8[index] = byte
                        restored[index] = round(Float8.e4m3Table[Int(byte)] * scale)
                    }
                }
            }
        }
        let outputs = outputs(for: tensor.info, scheme: scheme)
        let scaleTensor = try Self.scaleTensor(named: outputs[1].name, dtype: dtype, shape: outputs[1].shape, scales)
        switch scheme {
        case .int4:
            return Quantized(parts: [try Tensor(name: outputs[0].name, shape: outputs[0].shape, elements: packed), scaleTensor,
                                     try Tensor(name: outputs[2].name, shape: [2], elements: [Int64(rows), Int64(columns)])],
                             restored: restored)
        case .fp8PerChannel:
            return Quantized(parts: [try Tensor(name: outputs[0].name, dtype: .f8E4M3, shape: outputs[0].shape, bytes: fp8), scaleTensor],
                             restored: restored)
        }
    }

    /// `Float` rounded to `dtype` (F32, F16 or BF16) and back.
    private static func rounding(to dtype: DType) -> (Float) -> Float {
        switch dtype {
        case .f16: { Float(Float16($0)) }
        case .bf16: { Float(BFloat16($0)) }
        default: { $0 }
        }
    }

    /// torch's `finfo(dtype).eps`: the gap between 1 and the next value.
    private static func machineEpsilon(of dtype: DType) -> Float {
        switch dtype {
        case .f16: 0x1p-10
        case .bf16: 0x1p-7
        default: Float.ulpOfOne
        }
    }

    private static func scaleTensor(named name: String, dtype: DType, shape: [Int], _ values: [Float]) throws -> Tensor {
        switch dtype {
        case .f16: try Tensor(name: name, shape: shape, elements: values.map { Float16($0) })
        case .bf16: try Tensor(name: name, shape: shape, elements: values.map { BFloat16($0) })
        default: try Tensor(name: name, shape: shape, elements: values)
        }
    }

    /// The `quantization_config` compressed-tensors writes into `config.json` for `scheme`, as
    /// compact JSON with sorted keys; `ignore` names the Linear modules left unquantized.
    package static func configJSON(_ scheme: Scheme, ignore: [String]) -> String {
        let weights: String, inputs: String, format: String
        switch scheme {
        case .int4(let groupSize):
            weights = #"{"dynamic":false,"group_size":\#(groupSize),"num_bits":4,"strategy":"group","symmetric":true,"type":"int"}"#
            inputs = "null"
            format = "pack-quantized"
        case .fp8PerChannel:
            weights = #"{"dynamic":false,"group_size":null,"num_bits":8,"strategy":"channel","symmetric":true,"type":"float"}"#
            inputs = #"{"dynamic":true,"group_size":null,"num_bits":8,"strategy":"token","symmetric":true,"type":"float"}"#
            format = "float-quantized"
        }
        let ignored = ignore.map { JSONValue.string($0).serialized() }.joined(separator: ",")
        return #"{"config_groups":{"group_0":{"format":null,"input_activations":\#(inputs),"output_activations":null,"#
            + #""targets":["Linear"],"weights":\#(weights)}},"format":"\#(format)","global_compression_ratio":null,"#
            + #""ignore":[\#(ignored)],"kv_cache_scheme":null,"moe_sparsity_config":null,"#
            + #""quant_method":"compressed-tensors","quantization_status":"compressed"}"#
    }

    /// The metadata key under which the written file carries ``configJSON(_:ignore:)``.
    package static let configMetadataKey = "quantization_config"
}
