/// A Swift type whose values can be viewed directly in a tensor's bytes.
///
/// A conforming type has the size and bit layout of the dtype it names, so a tensor of that
/// dtype can be read as a buffer of the type without conversion (little-endian hosts only).
///
/// ```swift
/// try tensor.withElements(of: Float.self) { weights in weights.reduce(0, +) }
/// ```
public protocol TensorElement: BitwiseCopyable, Sendable {
    /// The dtype whose bytes this type reads.
    static var dtype: DType { get }
}

extension Bool: TensorElement { public static var dtype: DType { .bool } }
extension UInt8: TensorElement { public static var dtype: DType { .u8 } }
extension Int8: TensorElement { public static var dtype: DType { .i8 } }
extension Int16: TensorElement { public static var dtype: DType { .i16 } }
extension UInt16: TensorElement { public static var dtype: DType { .u16 } }
extension Float16: TensorElement { public static var dtype: DType { .f16 } }
extension BFloat16: TensorElement { public static var dtype: DType { .bf16 } }
extension Int32: TensorElement { public static var dtype: DType { .i32 } }
extension UInt32: TensorElement { public static var dtype: DType { .u32 } }
extension Float: TensorElement { public static var dtype: DType { .f32 } }
extension Double: TensorElement { public static var dtype: DType { .f64 } }
extension Int64: TensorElement { public static var dtype: DType { .i64 } }
extension UInt64: TensorElement { public static var dtype: DType { .u64 } }
