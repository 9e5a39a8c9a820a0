/// Rounding of `Float` to the 8-bit float formats, to nearest with ties to even, as ml_dtypes
/// and torch cast (`Spec/quantized-layouts.md`).
///
/// | format | largest finite | a finite value past it rounds to | NaN | ±∞ |
/// |---|---|---|---|---|
/// | F8_E4M3 (FN) | 448 (`0x7E`) | NaN (`S.1111.111`) | `S.1111.111` | NaN |
/// | F8_E5M2 | 57344 (`0x7B`) | ±∞ (`S.11111.00`) | `S.11111.10` | ±∞ |
///
/// A value rounds past the largest finite one when it is at least halfway to the next step
/// (464 for E4M3, 61440 − 2048 = 59392 for E5M2), ties going to the even step above.
extension Float8 {
    /// `value` rounded to F8_E4M3.
    package static func e4m3(_ value: Float) -> UInt8 {
        narrow(value.bitPattern, mantissaBits: 3, bias: 7, largestFinite: 0x7E, overflow: 0x7F, nan: 0x7F)
    }

    /// `value` rounded to F8_E5M2.
    package static func e5m2(_ value: Float) -> UInt8 {
        narrow(value.bitPattern, mantissaBits: 2, bias: 15, largestFinite: 0x7B, overflow: 0x7C, nan: 0x7E)
    }

    /// Rounds the binary32 `bits` to a format of `mantissaBits` stored bits and exponent `bias`.
    ///
    /// Normal results round the binary32 pattern itself: adding half a step less one, plus the
    /// kept low bit, then truncating, is round-to-nearest-even on the magnitude, and a carry
    /// out of the mantissa moves the exponent up as it should. Results below the smallest
    /// normal are counted in steps of the smallest subnormal, which scaling by a power of two
    /// gives exactly.
    @inline(__always)
    static func narrow(_ bits: UInt32, mantissaBits: Int, bias: Int, largestFinite: UInt8, overflow: UInt8, nan: UInt8) -> UInt8 {
        let sign = UInt8(truncatingIfNeeded: bits >> 24) & 0x80
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude > 0x7F80_0000 { return sign | nan }
        if magnitude == 0x7F80_0000 { return sign | overflow }
        let exponent = Int(magnitude >> 23) - 127
        if exponent < 1 - bias {
            // Below the smallest normal: a multiple of 2^(1 − bias − mantissaBits), up to and
            // including the smallest normal itself, whose code is the next integer.
            let steps = Float(bitPattern: magnitude) * Float(sign: .plus, exponent: bias - 1 + mantissaBits, significand: 1)
            return sign | UInt8(steps.rounded(.toNearestOrEven))
        }
        let shift = UInt32(23 - mantissaBits)
        let rounded = (magnitude + (1 << (shift - 1)) - 1 + ((magnitude >> shift) & 1)) >> shift
        let code = rounded - (UInt32(127 - bias) << UInt32(mantissaBits))
        return code > UInt32(largestFinite) ? sign | overflow : sign | UInt8(code)
    }
}
