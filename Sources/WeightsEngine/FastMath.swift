/// Branch-free `exp` and `erf` for `Float` that the optimizer can vectorize.
///
/// The C library's `expf` and `erff` are calls the loop vectorizer cannot see through; an
/// encoder evaluates tens of millions of each per batch (softmax, GELU), so they would cost
/// more than all the work outside the matrix products. These are written with wrapping
/// integer arithmetic and selects only, so loops over them vectorize.
enum FastMath {
    /// e^x, within 2 ulp of the correctly rounded result for x in [-87.3, 88]; inputs outside
    /// are clamped (so -∞ gives 2^-126 ≈ 1.2e-38, effectively 0 against any sum of exps).
    ///
    /// Cody–Waite reduction x = n·ln2 + r with |r| ≤ ln2/2, then the degree-7 Taylor
    /// polynomial of e^r (remainder below 2^-26 relative), scaled by 2^n through the exponent bits.
    @inline(__always)
    static func exp(_ value: Float) -> Float {
        let x = Swift.min(Swift.max(value, -87.33654), 88.0)
        // Adding 1.5·2^23 rounds to an integer (ties to even) in the low mantissa bits.
        let shifter: Float = 12_582_912
        let shifted = x * 1.442_695_04 + shifter
        let n = shifted - shifter
        let r = (x - n * 0.693_145_751_953_125) - n * 1.428_606_765_330_187e-6
        var p: Float = 1.0 / 5040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let exponent = shifted.bitPattern &- shifter.bitPattern   // n, as a wrapped integer
        return p * Float(bitPattern: (exponent &+ 127) &<< 23)
    }

    /// The error function, within 1.5e-7 absolute of erf(x) for every x.
    ///
    /// Abramowitz & Stegun, Handbook of Mathematical Functions (1964), formula 7.1.26:
    /// erf(x) = 1 − t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·e^(−x²), t = 1 / (1 + p·x), x ≥ 0,
    /// extended to negative x by oddness.
    @inline(__always)
    static func erf(_ x: Float) -> Float {
        let a = x.magnitude
        let t = 1 / (1 + 0.327_591_1 * a)
        var p: Float = 1.061_405_429
        p = p * t - 1.453_152_027
        p = p * t + 1.421_413_741
        p = p * t - 0.284_496_736
        p = p * t + 0.254_829_592
        let y = 1 - p * t * exp(-a * a)
        return x < 0 ? -y : y
    }
}
