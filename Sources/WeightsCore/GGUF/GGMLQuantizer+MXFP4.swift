import WeightsPlatform

extension GGMLQuantizer {
    /// MXFP4's E2M1 codes, doubled, by nibble: 0, 1, 2, 3, 4, 6, 8, 12, then negated.
    static let e2m1Doubled: [Float] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

    /// MXFP4, as gguf-py 0.19 quantizes it: the exponent byte e = ⌊log2 max |x|⌋ − 2 + 127
    /// (0 for an all-zero block), the scale 2^(e − 128); each element takes the first code c
    /// whose scale × c is nearest to it.
    ///
    /// NumPy's float32 `log2` is not correctly rounded, but only its floor matters, and that
    /// agrees with the float32 rounding of the double-precision logarithm on every float32
    /// within 2,000 ulps of a power of two (checked with NumPy 2.4 when the fixtures were made).
    static func mxfp4(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        // Sound: `x` is one block's 32 values, `y` its 17 bytes (encode's contract); offsets stay inside.
        var amax: Float = 0
        for i in 0..<32 { amax = max(amax, unsafe abs(x[i])) }
        let exponent: UInt8
        if amax > 0 {
            let log = Float(log2(Double(amax))).rounded(.down)
            exponent = numpyByte(log - 2 + 127)
        } else {
            exponent = 0
        }
        // 2^(e − 128) from its bits: a subnormal for e < 2.
        let e = UInt32(exponent)
        let scale = Float(bitPattern: e < 2 ? 0x0020_0000 << e : (e - 1) << 23)
        var codes = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 {
            let v = unsafe x[i]
            var best = 0
            var bestError = abs(scale * e2m1Doubled[0] - v)
            for k in 1..<16 {
                let error = abs(scale * e2m1Doubled[k] - v)
                if error < bestError { best = k; bestError = error }
            }
            codes[i] = UInt8(best)
        }
        unsafe store(exponent, y, 0)
        for j in 0..<16 { unsafe store(codes[j] | (codes[j + 16] << 4), y, 1 + j) }
    }
}
