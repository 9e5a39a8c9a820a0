/// A 16-bit brain floating-point number: the top half of an IEEE 754 `Float`.
///
/// `BFloat16` has `Float`'s 8-bit exponent and range with 7 bits of mantissa. It is a storage
/// type: convert to `Float` to compute. Conversion from `Float` rounds to nearest, ties to even,
/// as PyTorch and ml_dtypes do; NaN stays NaN with its sign.
///
/// ```swift
/// let x = BFloat16(1.00390625)     // halfway between 1 and 1.0078125: rounds to even
/// x.bitPattern                     // 0x3F80
/// Float(BFloat16(bitPattern: 0x4049))  // 3.140625
/// ```
@frozen
public struct BFloat16: Sendable, Hashable, BitwiseCopyable {
    /// The raw bits: sign, 8 exponent bits, 7 mantissa bits.
    public var bitPattern: UInt16

    @inlinable
    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// The nearest `BFloat16` to `value`, ties to even.
    ///
    /// - Complexity: O(1).
    @inlinable
    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            // Keep the sign and the top payload bits; force a quiet NaN so that truncating
            // the payload can never turn it into infinity.
            self.bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
            return
        }
        let lsb = (bits >> 16) & 1
        self.bitPattern = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ lsb) >> 16)
    }

    /// The exact `Float` value of this number.
    @inlinable
    public var floatValue: Float { Float(bitPattern: UInt32(bitPattern) << 16) }

    @inlinable
    public var isNaN: Bool { bitPattern & 0x7FFF > 0x7F80 }
}

extension Float {
    /// The exact value of a `BFloat16`.
    @inlinable
    public init(_ value: BFloat16) { self = value.floatValue }
}

extension BFloat16: CustomStringConvertible {
    public var description: String { floatValue.description }
}
