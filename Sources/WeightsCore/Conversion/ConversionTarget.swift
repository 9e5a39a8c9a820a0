/// What a conversion turns floating tensors into: another float format, or INT8 with scales.
///
/// ```swift
/// ConversionTarget("bf16")    // .float(.bf16)
/// ConversionTarget("int8")    // .int8
/// ```
public enum ConversionTarget: Sendable, Hashable {
    /// Every floating tensor becomes this format (F64, F32, F16 or BF16); INT8 pairs are
    /// dequantized into it.
    case float(FloatFormat)
    /// Floating tensors of rank 2 or more are quantized per row (see ``Int8Quantization``).
    case int8

    /// The target named `name`: `f64`, `f32`, `f16`, `bf16` or `int8`, in any case (the
    /// dtype codes `F32`, `BF16`… are accepted too).
    public init?(_ name: String) {
        switch name.lowercased() {
        case "f64", "float64": self = .float(.f64)
        case "f32", "float32": self = .float(.f32)
        case "f16", "float16", "half": self = .float(.f16)
        case "bf16", "bfloat16": self = .float(.bf16)
        case "int8", "i8": self = .int8
        default: return nil
        }
    }

    /// The names ``init(_:)`` accepts first, for help and error messages.
    public static let names = ["f64", "f32", "f16", "bf16", "int8"]

    /// The dtype floating tensors are written as.
    public var dtype: DType {
        switch self {
        case .float(let format): format.dtype
        case .int8: .i8
        }
    }
}

extension ConversionTarget: CustomStringConvertible {
    public var description: String {
        switch self {
        case .float(let format): format.dtype.rawValue.lowercased()
        case .int8: "int8"
        }
    }
}
