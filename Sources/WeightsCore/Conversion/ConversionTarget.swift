/// What a conversion turns floating tensors into: another float format, or INT8 with scales.
///
/// ```swift
/// ConversionTarget("bf16")    // .float(.bf16)
/// ConversionTarget("int8")    // .int8
/// ConversionTarget("int4")    // .int4(groupSize: 128)
/// ```
public enum ConversionTarget: Sendable, Hashable {
    /// Every floating tensor becomes this format (F64, F32, F16 or BF16); INT8 pairs are
    /// dequantized into it.
    case float(FloatFormat)
    /// Floating tensors of rank 2 or more are quantized per row (see ``Int8Quantization``).
    case int8
    /// Linear weights become compressed-tensors `pack-quantized` symmetric INT4 with one
    /// scale per `groupSize` entries of a row (Spec/quantized-layouts.md); other tensors are copied.
    case int4(groupSize: Int)
    /// Linear weights become compressed-tensors `float-quantized` F8_E4M3 with one scale per
    /// row; other tensors are copied.
    case fp8E4M3

    /// The group size of `int4` unless one is given: compressed-tensors' W4A16 preset's.
    public static let defaultGroupSize = 128

    /// The target named `name`: `f64`, `f32`, `f16`, `bf16`, `int8`, `int4` (group 128) or
    /// `f8_e4m3`, in any case (the dtype codes `F32`, `BF16`… are accepted too).
    public init?(_ name: String) {
        switch name.lowercased() {
        case "f64", "float64": self = .float(.f64)
        case "f32", "float32": self = .float(.f32)
        case "f16", "float16", "half": self = .float(.f16)
        case "bf16", "bfloat16": self = .float(.bf16)
        case "int8", "i8": self = .int8
        case "int4", "i4", "w4a16": self = .int4(groupSize: Self.defaultGroupSize)
        case "f8_e4m3", "f8e4m3", "fp8", "float8_e4m3fn": self = .fp8E4M3
        default: return nil
        }
    }

    /// The names ``init(_:)`` accepts first, for help and error messages.
    public static let names = ["f64", "f32", "f16", "bf16", "int8", "int4", "f8_e4m3"]

    /// The dtype floating tensors are written as.
    public var dtype: DType {
        switch self {
        case .float(let format): format.dtype
        case .int8: .i8
        case .int4: .i32
        case .fp8E4M3: .f8E4M3
        }
    }
}

extension ConversionTarget: CustomStringConvertible {
    public var description: String {
        switch self {
        case .float(let format): format.dtype.rawValue.lowercased()
        case .int8: "int8"
        case .int4(let groupSize): "int4 (group \(groupSize))"
        case .fp8E4M3: "f8_e4m3"
        }
    }
}

extension ConversionTarget {
    /// The compressed-tensors scheme of `int4` and `fp8E4M3`; `nil` for the others.
    var hubScheme: HubQuantizer.Scheme? {
        switch self {
        case .int4(let groupSize): .int4(groupSize: groupSize)
        case .fp8E4M3: .fp8PerChannel
        case .float, .int8: nil
        }
    }
}
