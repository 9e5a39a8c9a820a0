/// The element type of a tensor, as named by a safetensors header.
///
/// The cases are declared in the reference implementation's order, lowest first. That order is
/// part of the format: a canonical writer lays tensors out by dtype, *descending* in this order
/// (see ``SafetensorsLayout``), so `.u64` tensors come first and `.bool` tensors last.
///
/// The raw value is the code written in the header:
///
/// ```swift
/// DType(rawValue: "BF16")   // .bf16
/// DType.f8E4M3.rawValue     // "F8_E4M3"
/// DType.f4.bitWidth         // 4
/// ```
public enum DType: String, CaseIterable, Sendable, Hashable, Codable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6E2M3 = "F6_E2M3"
    case f6E3M2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case f8E8M0 = "F8_E8M0"
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bits per element. Sub-byte types (F4, F6) pack several elements per byte.
    public var bitWidth: Int {
        switch self {
        case .f4: 4
        case .f6E2M3, .f6E3M2: 6
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .c64, .f64, .i64, .u64: 64
        }
    }

    /// Bytes per element, or `nil` for the packed sub-byte types F4, F6_E2M3 and F6_E3M2.
    public var byteWidth: Int? { bitWidth % 8 == 0 ? bitWidth / 8 : nil }

    /// The alignment a typed view of this dtype needs: its element size, or 1 when packed.
    /// `C64` is a pair of `Float`, so 4 suffices for it.
    public var alignment: Int {
        switch self {
        case .c64: 4
        default: byteWidth ?? 1
        }
    }

    /// Whether the elements are real floating-point numbers (not integers, booleans or complex).
    public var isFloatingPoint: Bool {
        switch self {
        case .f4, .f6E2M3, .f6E3M2, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ,
             .f16, .bf16, .f32, .f64:
            true
        default:
            false
        }
    }

    /// Position in the reference enumeration, lowest first. Canonical files store higher
    /// ranks first.
    public var rank: Int { Self.rankTable[self]! }

    private static let rankTable: [DType: Int] = Dictionary(
        uniqueKeysWithValues: allCases.enumerated().map { ($1, $0) })
}

extension DType: CustomStringConvertible {
    public var description: String { rawValue }
}

// MARK: - Codes as bytes

extension DType {
    /// The dtype whose code is the UTF-8 `bytes`, as read from a header, without building a
    /// `String`; nil for an unknown code.
    ///
    /// - Complexity: O(1): the code is packed into two words and compared with each of the
    ///   22 known codes.
    init?(code bytes: UnsafeRawBufferPointer) {
        // Sound: `PackedCode` reads at most the caller's `bytes.count` bytes, within the call.
        guard let key = unsafe PackedCode(bytes), let match = Self.packedCodes.first(where: { $0.code == key }) else {
            return nil
        }
        self = match.dtype
    }

    private static let packedCodes: [(code: PackedCode, dtype: DType)] = allCases.map { dtype in
        let code = unsafe Array(dtype.rawValue.utf8).withUnsafeBytes { unsafe PackedCode($0)! }  // Sound: inside the closure; every name is under 16 bytes.
        return (code, dtype)
    }

    /// Up to 16 bytes packed into two little-endian words, zero-padded. Codes never hold a zero
    /// byte (JSON strings cannot hold raw control characters), so the padding is unambiguous.
    private struct PackedCode: Equatable {
        var low: UInt64 = 0
        var high: UInt64 = 0

        init?(_ bytes: UnsafeRawBufferPointer) {
            guard bytes.count <= 16 else { return nil }
            for unsafe (index, byte) in unsafe bytes.enumerated() {  // Sound: iterates the buffer's own count, at most 16.
                if index < 8 { low |= UInt64(byte) << (8 * index) } else { high |= UInt64(byte) << (8 * (index - 8)) }
            }
        }
    }
}
