import CWeightsSIMD

/// The element encoding of a GGUF tensor: a plain number type or a block format.
///
/// A block format stores ``blockSize`` consecutive elements of a row in ``typeSize`` bytes
/// (scales, then packed quants). Plain types are blocks of one element. The raw values are
/// ggml's type ids as they appear in the file; ids that ggml has retired (4, 5, 31–33, 36–38)
/// and ids this library does not know are refused when a file is opened.
///
/// ```swift
/// GGMLType.q4_K.blockSize          // 256
/// GGMLType.q4_K.typeSize           // 144 bytes per block
/// GGMLType.q4_K.bitsPerWeight      // 4.5
/// ```
public enum GGMLType: UInt32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1
    case q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28
    case iq1_M = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35
    case mxfp4 = 39, nvfp4 = 40, q1_0 = 41

    /// The name ggml and gguf-py use: `F32`, `Q4_K`, `IQ4_XS`.
    public var name: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        case .iq2_XXS: "IQ2_XXS"
        case .iq2_XS: "IQ2_XS"
        case .iq3_XXS: "IQ3_XXS"
        case .iq1_S: "IQ1_S"
        case .iq4_NL: "IQ4_NL"
        case .iq3_S: "IQ3_S"
        case .iq2_S: "IQ2_S"
        case .iq4_XS: "IQ4_XS"
        case .i8: "I8"
        case .i16: "I16"
        case .i32: "I32"
        case .i64: "I64"
        case .f64: "F64"
        case .iq1_M: "IQ1_M"
        case .bf16: "BF16"
        case .tq1_0: "TQ1_0"
        case .tq2_0: "TQ2_0"
        case .mxfp4: "MXFP4"
        case .nvfp4: "NVFP4"
        case .q1_0: "Q1_0"
        }
    }

    public var description: String { name }

    /// The type named `name` (as ``name`` spells it, any case), or `nil`.
    public init?(name: String) {
        guard let found = GGMLType.allCases.first(where: { $0.name.lowercased() == name.lowercased() }) else { return nil }
        self = found
    }

    /// Elements per block: 1 for plain types, 32 or 256 (64 for NVFP4, 128 for Q1_0) for
    /// block formats.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_NL, .mxfp4: 32
        case .nvfp4: 64
        case .q1_0: 128
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K, .iq2_XXS, .iq2_XS, .iq3_XXS, .iq1_S, .iq3_S,
             .iq2_S, .iq4_XS, .iq1_M, .tq1_0, .tq2_0: 256
        }
    }

    /// Bytes per block.
    public var typeSize: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .f64, .i64: 8
        case .i8: 1
        case .q4_0: 18
        case .q4_1: 20
        case .q5_0: 22
        case .q5_1: 24
        case .q8_0: 34
        case .q8_1: 40
        case .q2_K: 84
        case .q3_K: 110
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        case .q8_K: 292
        case .iq2_XXS: 66
        case .iq2_XS: 74
        case .iq3_XXS: 98
        case .iq1_S: 50
        case .iq4_NL: 18
        case .iq3_S: 110
        case .iq2_S: 82
        case .iq4_XS: 136
        case .iq1_M: 56
        case .tq1_0: 54
        case .tq2_0: 66
        case .mxfp4: 17
        case .nvfp4: 36
        case .q1_0: 18
        }
    }

    /// Bits stored per element, scales included: `typeSize × 8 / blockSize`.
    public var bitsPerWeight: Double { Double(typeSize * 8) / Double(blockSize) }

    /// Whether elements are stored in blocks of more than one.
    public var isQuantized: Bool { blockSize > 1 }

    /// Whether ``GGUFTensor/dequantized(blocks:kernel:)`` decodes this type.
    public var canDequantize: Bool {
        switch self {
        case .q8_1, .q1_0: false
        default: true
        }
    }

    /// Whether ``GGUFTensor/dequantized(blocks:kernel:)`` decodes this type with SIMD kernels
    /// on this machine (AVX2 and F16C, checked at run time): Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and
    /// Q2_K to Q6_K. Both paths give the same bits.
    public var dequantizesWithSIMD: Bool { weights_ggml_dequantize_accelerated(Int32(rawValue)) }

    /// The safetensors dtype with the same bytes, for plain types; `nil` for block formats.
    public var dtype: DType? {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .f64: .f64
        case .i8: .i8
        case .i16: .i16
        case .i32: .i32
        case .i64: .i64
        default: nil
        }
    }
}
