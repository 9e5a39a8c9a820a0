// The ternary formats TQ1_0 and TQ2_0: 256 values a block, each stored as a digit q of 0, 1
// or 2 that stands for (q − 1) × d, with gguf-py 0.19's arithmetic: d = max |x| (float32, kept
// as f16), q = np_roundf(x × (1 / d)) + 1, where 1 / d is one float32 division and 0 when d
// is 0. TQ2_0 packs four digits a byte, 2 bits each; TQ1_0 packs five digits a byte as a
// base-3 number scaled to fill the byte (Spec/gguf.md, section 6). Models trained with
// ternary weights (BitNet b1.58) are what these formats are for: other weights lose most of
// their information in them.
// Each kernel reads 256 floats at `x` and writes one block at `y`; the caller checked both.

extension GGMLQuantizer {
    /// The block's scale, max |x|, and the inverse the digits are computed with.
    @inline(__always) static func ternaryScale(_ x: UnsafePointer<Float>) -> (d: Float, id: Float) {
        // Sound: `x` is one block's 256 values (encode's contract).
        var amax: Float = 0
        for i in 0..<256 { amax = max(amax, unsafe abs(x[i])) }
        return (amax, inverse(amax))
    }

    /// Element `i`'s digit: NumPy's int8 cast of the rounded product, plus one as a byte
    /// (so −1, 0 and 1 become 0, 1 and 2).
    @inline(__always) static func ternaryDigit(_ x: UnsafePointer<Float>, _ i: Int, _ id: Float) -> UInt16 {
        // Sound: `i` is below 256, inside the block (callers' loops).
        UInt16(numpyByte(roundHalfAway(unsafe x[i] * id)) &+ 1)
    }

    /// TQ1_0 (54 bytes): 48 bytes of five digits each, 4 bytes of four digits each, then d.
    /// Byte j of the first 32 holds elements j, j + 32, …, j + 128 (most significant first);
    /// the next 16 hold elements 160 + j, 176 + j, …, 224 + j; the last 4 hold 240 + j,
    /// 244 + j, 248 + j and 252 + j. A base-3 number n of five digits is stored as
    /// ⌊(256·n + 242) / 243⌋, so that the decoder's `(byte × 3) >> 8` per digit recovers it.
    static func tq1_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        // Sound: `x` is one block's 256 values, `y` its 54 bytes (encode's contract); the
        // element indices stay below 256 and the byte offsets below 54.
        let (d, id) = unsafe ternaryScale(x)
        @inline(__always) func pack(_ n: UInt16) -> UInt8 { UInt8((n * 256 + 242) / 243) }
        for j in 0..<32 {
            var n: UInt16 = 0
            for k in 0..<5 { n = unsafe n * 3 + ternaryDigit(x, 32 * k + j, id) }
            unsafe store(pack(n), y, j)
        }
        for j in 0..<16 {
            var n: UInt16 = 0
            for k in 0..<5 { n = unsafe n * 3 + ternaryDigit(x, 160 + 16 * k + j, id) }
            unsafe store(pack(n), y, 32 + j)
        }
        for j in 0..<4 {
            var n: UInt16 = 0
            for k in 0..<4 { n = unsafe n * 3 + ternaryDigit(x, 240 + 4 * k + j, id) }
            unsafe store(pack(n * 3), y, 48 + j)   // four digits, as the top four of five
        }
        unsafe store(halfBits(d), y, 52)
    }

    /// TQ2_0 (66 bytes): 64 bytes of four 2-bit digits, then d. In each half of 128
    /// elements, byte j holds elements j, j + 32, j + 64 and j + 96 in bits 0–1, 2–3, 4–5
    /// and 6–7.
    static func tq2_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        // Sound: `x` is one block's 256 values, `y` its 66 bytes (encode's contract); the
        // element indices stay below 256 and the byte offsets below 66.
        let (d, id) = unsafe ternaryScale(x)
        for half in 0..<2 {
            for j in 0..<32 {
                var byte: UInt16 = 0
                for k in 0..<4 { byte |= unsafe ternaryDigit(x, 128 * half + 32 * k + j, id) << (2 * k) }
                unsafe store(UInt8(byte), y, 32 * half + j)
            }
        }
        unsafe store(halfBits(d), y, 64)
    }
}
