/// One GGUF metadata value, typed as the file declares it.
///
/// Scalars and strings are decoded when the file is opened; arrays stay in the mapping as a
/// ``GGUFArray`` whose element type and count are known up front and whose elements are
/// decoded on access, so a 262,144-entry tokenizer vocabulary costs one scan of its length
/// fields at open.
///
/// ```swift
/// let file = try GGUFFile(path: "gemma-3-270m-Q4_K_M.gguf")
/// file.metadata["general.architecture"]?.string      // "gemma3"
/// file.metadata["gemma3.embedding_length"]?.int      // 640
/// try file.metadata["tokenizer.ggml.tokens"]?.array?.strings().count   // 262144
/// ```
public enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case array(GGUFArray)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)

    /// The value's type.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .array: .array
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    /// The value of any integer type as `Int`; `nil` for other types and for a `UINT64` above
    /// `Int.max`.
    public var int: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// The value of a floating type as `Double` (exact for both); integers are converted
    /// too (rounded when beyond 2⁵³). `nil` for bools, strings and arrays.
    public var double: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        case .uint64(let v): Double(v)
        default: int.map(Double.init)
        }
    }

    /// A `BOOL` value.
    public var bool: Bool? { if case .bool(let v) = self { v } else { nil } }

    /// A `STRING` value.
    public var string: String? { if case .string(let v) = self { v } else { nil } }

    /// An `ARRAY` value.
    public var array: GGUFArray? { if case .array(let v) = self { v } else { nil } }

    /// The value as text: numbers as Swift prints them, strings unquoted, arrays as
    /// `[STRING × 262144]`.
    public var description: String {
        switch self {
        case .uint8(let v): "\(v)"
        case .int8(let v): "\(v)"
        case .uint16(let v): "\(v)"
        case .int16(let v): "\(v)"
        case .uint32(let v): "\(v)"
        case .int32(let v): "\(v)"
        case .float32(let v): "\(v)"
        case .bool(let v): "\(v)"
        case .string(let v): v
        case .array(let v): "[\(v.elementType) × \(v.count)]"
        case .uint64(let v): "\(v)"
        case .int64(let v): "\(v)"
        case .float64(let v): "\(v)"
        }
    }
}
