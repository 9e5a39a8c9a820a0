// The 32-element formats Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1, with gguf-py 0.19's arithmetic:
// every product, quotient and sum is one float32 operation in NumPy's order (Swift does not
// fuse them), rounding is NumPy's `trunc` after adding one half (Q4/Q5) or its
// round-half-away-from-zero built from `floor` (Q8_0), and the casts to bytes are NumPy's.
// Each kernel reads 32 floats at `x` and writes one block at `y`; the caller checked both.

extension GGMLQuantizer {
    /// The first element of largest magnitude (NumPy's `argmax` of `abs`).
    @inline(__always) static func signedAbsMax(_ x: UnsafePointer<Float>) -> Float {
        // Sound: `x` is one block's 32 values, `y` its bytes (encode's contract); offsets stay inside.
        var best = unsafe x[0]
        for i in 1..<32 where unsafe abs(x[i]) > abs(best) { best = unsafe x[i] }
        return best
    }

    /// The smallest and largest elements.
    @inline(__always) static func range(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
        // Sound: `x` is one block's 32 values, `y` its bytes (encode's contract); offsets stay inside.
        var low = unsafe x[0], high = unsafe x[0]
        for i in 1..<32 {
            let v = unsafe x[i]
            if v < low { low = v }
            if v > high { high = v }
        }
        return (low, high)
    }

    /// `1 / d`, or 0 when `d` is 0.
    @inline(__always) static func inverse(_ d: Float) -> Float { d == 0 ? 0 : 1 / d }

    /// gguf-py's `np_roundf`: rounds half away from zero through `floor`, so that for
    /// non-finite products it gives NaN as NumPy does.
    @inline(__always) static func roundHalfAway(_ n: Float) -> Float {
        let a = abs(n)
        let floored = a.rounded(.down)
        let b = floored + (2 * (a - floored)).rounded(.down)
        let sign: Float = n > 0 ? 1 : n < 0 ? -1 : n   // NumPy's sign: ±1, or the zero or NaN itself
        return sign * b
    }

    /// Q8_0: `d` = max |x| / 127 (f16); q = round(x / d) as a signed byte.
    static func q8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        // Sound: `x` is one block's 32 values, `y` its bytes (encode's contract); offsets stay inside.
        var amax: Float = 0
        for i in 0..<32 { amax = max(amax, unsafe abs(x[i])) }
        let d = amax / 127
        let id = inverse(d)
        unsafe store(halfBits(d), y, 0)
        for i in 0..<32 { unsafe store(numpyByte(roundHalfAway(x[i] * id)), y, 2 + i) }
    }

    /// Q4_0 and Q5_0's quants: trunc(x × id + offset) as a byte, clipped to `top`.
    @inline(__always) static func offsetQuants(_ x: UnsafePointer<Float>, _ id: Float, _ offset: Float, _ top: UInt8,
                                              _ q: inout [UInt8]) {
        // Sound: `x` is one block's 32 values, `y` its bytes (encode's contract); offsets stay inside.
        for i in 0..<32 { q[i] = min(numpyByte((unsafe x[i] * id + offset).rounded(.towardZero)), top) }
    }

    /// Q4_1 and Q5_1's quants: trunc((x − min) × id + 0.5) as a byte, clipped to `top`.
    @inline(__always) static func minimumQuants(_ x: UnsafePointer<Float>, _ low: Float, _ id: Float, _ top: UInt8,
                                               _ q: inout [UInt8]) {
        // Sound: `x` is one block's 32 values, `y` its bytes (encode's contract); offsets stay inside.
        for i in 0..<32 { q[i] = min(numpyByte(((unsafe x[i] - low) * id + 0.5).rounded(.towardZero)), top) }
    }

    /// 16 bytes of nibbles: byte j holds element j low, element 16 + j high.
    @inline(__always) static func storeNibbles(_ q: [UInt8], _ y: UnsafeMutableRawPointer, _ offset: Int) {
        // Sound: `x` is one block's 32 values, `y` its bytes (encode's contract); offsets stay inside.
        for j in 0..<16 { unsafe store((q[j] & 0x0F) | (q[j + 16] << 4), y, offset + j) }
    }

    /// The fifth bits as a u32: bit j is element j's bit 4.
    @inline(__always) static func fifthBits(_ q: [UInt8]) -> UInt32 {
        var bits: UInt32 = 0
        for j in 0..<32 { bits |= UInt32((q[j] >> 4) & 1) << j }
        return bits
    }

    /// Q4_0: `d` = m / −8 for the element m of largest magnitude; q = trunc(x / d + 8.5) in 0…15.
    static func q4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        // Sound: `x` is one block's 32 values, `y` its bytes (encode's contract); offsets stay inside.
        let d = unsafe signedAbsMax(x) / -8
        var q = [UInt8](repeating: 0, count: 32)
        unsafe offsetQuants(x, inverse(d), 8.5, 15, &q)
        unsafe store(halfBits(d), y, 0)
        unsafe storeNibbles(q, y, 2)
    }

    /// Q5_0: `d` = m / −16; q = trunc(x / d + 16.5) in 0…31.
    static func q5_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        // Sound: `x` is one block's 32 values, `y` its bytes (encode's contract); offsets stay inside.
        let d = unsafe signedAbsMax(x) / -16
        var q = [UInt8](repeating: 0, count: 32)
        unsafe offsetQuants(x, inverse(d), 16.5, 31, &q)
        unsafe store(halfBits(d), y, 0)
        unsafe store(fifthBits(q), y, 2)
        unsafe storeNibbles(q, y, 6)
    }

    /// Q4_1: `d` = (max − min) / 15, `m` = min; q = trunc((x − min) / d + 0.5) in 0…15.
    static func q4_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        // Sound: `x` is one block's 32 values, `y` its bytes (encode's contract); offsets stay inside.
        let (low, high) = unsafe range(x)
        let d = (high - low) / 15
        var q = [UInt8](repeating: 0, count: 32)
        unsafe minimumQuants(x, low, inverse(d), 15, &q)
        unsafe store(halfBits(d), y, 0)
        unsafe store(halfBits(low), y, 2)
        unsafe storeNibbles(q, y, 4)
    }

    /// Q5_1: `d` = (max − min) / 31, `m` = min; q = trunc((x − min) / d + 0.5) in 0…31.
    static func q5_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        // Sound: `x` is one block's 32 values, `y` its bytes (encode's contract); offsets stay inside.
        let (low, high) = unsafe range(x)
        let d = (high - low) / 31
        var q = [UInt8](repeating: 0, count: 32)
        unsafe minimumQuants(x, low, inverse(d), 31, &q)
        unsafe store(halfBits(d), y, 0)
        unsafe store(halfBits(low), y, 2)
        unsafe store(fifthBits(q), y, 4)
        unsafe storeNibbles(q, y, 8)
    }
}
