// Reference conversions written from the IEEE 754 rules, independently of the library's bit
// tricks: decompose the exact value, pick the quantum of the target format at that magnitude,
// round the scaled significand half to even, then encode. Slow but obviously right.

/// A binary floating-point format with `exponentBits` and `fractionBits` (IEEE layout).
struct ReferenceFormat {
    var exponentBits: Int
    var fractionBits: Int

    static let binary16 = ReferenceFormat(exponentBits: 5, fractionBits: 10)
    static let bfloat16 = ReferenceFormat(exponentBits: 8, fractionBits: 7)

    var bias: Int { (1 << (exponentBits - 1)) - 1 }
    var infinityBits: UInt16 { UInt16((1 << exponentBits) - 1) << fractionBits }
    var signBit: UInt16 { 1 << (exponentBits + fractionBits) }

    /// The bits of the value nearest to the binary32 `bits`, ties to even. NaN: the project's
    /// documented rule (sign kept, quiet bit set, top payload bits kept).
    func round(binary32 bits: UInt32) -> UInt16 {
        let sign: UInt16 = bits >> 31 == 1 ? signBit : 0
        let exponentField = Int((bits >> 23) & 0xFF)
        let fraction = UInt64(bits & 0x7F_FFFF)
        if exponentField == 0xFF {
            if fraction == 0 { return sign | infinityBits }
            let quiet: UInt16 = 1 << (fractionBits - 1)
            return sign | infinityBits | quiet | UInt16(fraction >> (23 - fractionBits))
        }
        // The exact value is significand × 2^exponent.
        let significand = exponentField == 0 ? fraction : fraction | 1 << 23
        let exponent = exponentField == 0 ? -149 : exponentField - 150
        return round(sign: sign, significand: significand, exponent: exponent)
    }

    /// The bits of the value nearest to ±`significand` × 2^`exponent`, ties to even.
    func round(sign: UInt16, significand: UInt64, exponent: Int) -> UInt16 {
        guard significand != 0 else { return sign }
        let minimumExponent = 1 - bias
        let leadingBitExponent = exponent + (63 - significand.leadingZeroBitCount)
        // The spacing of representable values at this magnitude (subnormals share emin's).
        let quantumExponent = max(leadingBitExponent, minimumExponent) - fractionBits
        let shift = quantumExponent - exponent
        var units: UInt64
        if shift <= 0 {
            units = significand << UInt64(-shift)
        } else if shift >= 64 {
            units = 0  // far below half a quantum
        } else {
            let kept = significand >> UInt64(shift)
            let dropped = significand & ((1 << UInt64(shift)) - 1)
            let half: UInt64 = 1 << UInt64(shift - 1)
            let roundUp = dropped > half || (dropped == half && kept & 1 == 1)
            units = kept + (roundUp ? 1 : 0)
        }
        var leading = quantumExponent + fractionBits
        if units >= 1 << UInt64(fractionBits + 1) {  // rounding carried into a new binade
            units >>= 1
            leading += 1
        }
        if units < 1 << UInt64(fractionBits) { return sign | UInt16(units) }  // subnormal or zero
        let biased = leading + bias
        if biased >= (1 << exponentBits) - 1 { return sign | infinityBits }
        return sign | UInt16(biased) << fractionBits | UInt16(units & ((1 << UInt64(fractionBits)) - 1))
    }

    /// The binary32 bits of the exact value of `bits` in this format. NaN keeps its payload;
    /// binary16 NaNs are made quiet (as F16C does), bfloat16 NaNs keep every bit (widening a
    /// bfloat16 is appending 16 zero bits, as every framework does).
    func widen(_ bits: UInt16) -> UInt32 {
        let sign = UInt32(bits & signBit) << (31 - UInt32(exponentBits + fractionBits))
        let exponentField = Int(bits >> fractionBits) & ((1 << exponentBits) - 1)
        let fraction = UInt32(bits) & ((1 << UInt32(fractionBits)) - 1)
        let shiftedFraction = fraction << UInt32(23 - fractionBits)
        if exponentField == (1 << exponentBits) - 1 {
            let quiet: UInt32 = fraction == 0 || exponentBits == 8 ? 0 : 0x40_0000
            return sign | 0x7F80_0000 | quiet | shiftedFraction
        }
        // Exact in Float: both 16-bit formats sit inside binary32's range and precision.
        let magnitude = exponentField == 0
            ? Float(fraction) * Float(sign: .plus, exponent: 1 - bias - fractionBits, significand: 1)
            : Float(fraction | 1 << UInt32(fractionBits))
                * Float(sign: .plus, exponent: exponentField - bias - fractionBits, significand: 1)
        return sign | magnitude.bitPattern
    }

    /// Whether `bits` is infinite in this format.
    func isInfinite(_ bits: UInt16) -> Bool { bits & ~signBit == infinityBits }
}

extension ReferenceFormat {
    /// The bits nearest to the binary64 `value`, rounded once, ties to even.
    func round(binary64 value: Double) -> UInt16 {
        let bits = value.bitPattern
        let sign: UInt16 = bits >> 63 == 1 ? signBit : 0
        let exponentField = Int((bits >> 52) & 0x7FF)
        let fraction = bits & ((1 << 52) - 1)
        if exponentField == 0x7FF {
            if fraction == 0 { return sign | infinityBits }
            let quiet: UInt16 = 1 << (fractionBits - 1)
            return sign | infinityBits | quiet | UInt16(fraction >> (52 - UInt64(fractionBits)))
        }
        let significand = exponentField == 0 ? fraction : fraction | 1 << 52
        let exponent = exponentField == 0 ? -1074 : exponentField - 1075
        return round(sign: sign, significand: significand, exponent: exponent)
    }
}
