import WeightsPlatform

/// Working storage for one 256-element super-block, reused from block to block.
struct KQuantScratch {
    var levels = [UInt8](repeating: 0, count: 256)
    var trial = [UInt8](repeating: 0, count: 32)
    var weights = [Float](repeating: 0, count: 32)
    var scales = [Float](repeating: 0, count: 16)
    var mins = [Float](repeating: 0, count: 16)
    var signedLevels = [Int8](repeating: 0, count: 256)
}

// Q4_K and Q6_K after llama.cpp's reference quantizers (ggml-quants.c, no importance matrix),
// in float32 with the C source's order of operations and no fused multiply-add. Spec/gguf.md,
// section 6, describes the search each one makes.
extension GGMLQuantizer {
    /// ggml's `nearest_int`: adds 1.5 × 2²³ and reads the low mantissa bits, which rounds to
    /// nearest with ties to even for |x| < 2²². Defined (if meaningless) for any input.
    @inline(__always) static func nearestInt(_ value: Float) -> Int32 {
        let shifted = value + 12_582_912
        return Int32(bitPattern: shifted.bitPattern & 0x007F_FFFF) &- 0x0040_0000
    }

    /// Fits `levels` in 0…`top` to the `count` elements at `x` as scale × level − min,
    /// minimizing the weighted squared error over a few candidate scales (ggml's
    /// `make_qkx2_quants` with `rmin` −1, `rdelta` 0.1, 20 steps). Returns the scale and the
    /// minimum (as a positive offset).
    static func fitScaleAndMinimum(_ x: UnsafePointer<Float>, count n: Int, top: Int32, offset: Int,
                                   _ scratch: inout KQuantScratch) -> (scale: Float, minimum: Float) {
        // Sound: `x` is a super-block's 256 values (a fit: one group of them), `y` its bytes; indices stay inside.
        let rmin: Float = -1, rdelta: Float = 0.1, steps = 20
        let nmax = Float(top)
        var low = unsafe x[0], high = unsafe x[0]
        var sumW = scratch.weights[0]
        var sumX = unsafe sumW * x[0]
        for i in 1..<n {
            let v = unsafe x[i]
            if v < low { low = v }
            if v > high { high = v }
            let w = scratch.weights[i]
            sumW += w
            sumX += w * v
        }
        if low > 0 { low = 0 }
        if high == low {
            for i in 0..<n { scratch.levels[offset + i] = 0 }
            return (0, -low)
        }
        var iscale = nmax / (high - low)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let v = unsafe x[i]
            let l = max(0, min(top, nearestInt(iscale * (v - low))))
            scratch.levels[offset + i] = UInt8(l)
            let diff = scale * Float(l) + low - v
            bestError += scratch.weights[i] * (diff * diff)
        }
        for step in 0...steps {
            iscale = (rmin + rdelta * Float(step) + nmax) / (high - low)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let v = unsafe x[i]
                let l = max(0, min(top, nearestInt(iscale * (v - low))))
                scratch.trial[i] = UInt8(l)
                let w = scratch.weights[i]
                let fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * v
            }
            let determinant = sumW * sumL2 - sumL * sumL
            guard determinant > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / determinant
            var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var error: Float = 0
            for i in 0..<n {
                let diff = unsafe thisScale * Float(scratch.trial[i]) + thisMin - x[i]
                error += scratch.weights[i] * (diff * diff)
            }
            if error < bestError {
                for i in 0..<n { scratch.levels[offset + i] = scratch.trial[i] }
                bestError = error
                scale = thisScale
                low = thisMin
            }
        }
        return (scale, -low)
    }

    /// Q4_K: per group of 32, a scale and minimum fitted with weights √(mean x²) + |x|; the 8
    /// scales and 8 minimums quantized to 6 bits against their largest (f16 `d`, `dmin`);
    /// then each element's nibble recomputed from the stored scales.
    static func q4_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ scratch: inout KQuantScratch) {
        // Sound: `x` is a super-block's 256 values (a fit: one group of them), `y` its bytes; indices stay inside.
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            let group = unsafe x + 32 * j
            var sumX2: Float = 0
            for l in 0..<32 { sumX2 += unsafe group[l] * group[l] }
            let average = sqrtf(sumX2 / 32)
            for l in 0..<32 { scratch.weights[l] = unsafe average + abs(group[l]) }
            let (scale, minimum) = unsafe fitScaleAndMinimum(group, count: 32, top: 15, offset: 32 * j, &scratch)
            scratch.scales[j] = scale
            scratch.mins[j] = minimum
            if scale > maxScale { maxScale = scale }
            if minimum > maxMin { maxMin = minimum }
        }
        let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<8 {
            let ls = min(63, UInt8(truncatingIfNeeded: nearestInt(inverseScale * scratch.scales[j])))
            let lm = min(63, UInt8(truncatingIfNeeded: nearestInt(inverseMin * scratch.mins[j])))
            if j < 4 {
                packed[j] = ls
                packed[j + 4] = lm
            } else {
                packed[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
                packed[j - 4] |= (ls >> 4) << 6
                packed[j] |= (lm >> 4) << 6
            }
        }
        let dBits = halfBits(maxScale / 63), dminBits = halfBits(maxMin / 63)
        let d = widen(dBits), dmin = widen(dminBits)
        for j in 0..<8 {
            let sc: UInt8, m: UInt8
            if j < 4 {
                sc = packed[j] & 63
                m = packed[j + 4] & 63
            } else {
                sc = (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4)
                m = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4)
            }
            let groupScale = d * Float(sc)
            if groupScale == 0 { continue }
            let groupMin = dmin * Float(m)
            for i in 0..<32 {
                let l = nearestInt((unsafe x[32 * j + i] + groupMin) / groupScale)
                scratch.levels[32 * j + i] = UInt8(max(0, min(15, l)))
            }
        }
        unsafe store(dBits, y, 0)
        unsafe store(dminBits, y, 2)
        for k in 0..<12 { unsafe store(packed[k], y, 4 + k) }
        for chunk in 0..<4 {
            for l in 0..<32 {
                let low = scratch.levels[64 * chunk + l], high = scratch.levels[64 * chunk + 32 + l]
                unsafe store(low | (high << 4), y, 16 + 32 * chunk + l)
            }
        }
    }

    /// Fits signed levels in −`top`…`top` − 1 to 16 elements, weights x², trying 19 scales
    /// around −`top` / m for the element m of largest magnitude (ggml's `make_qx_quants` with
    /// `rmse_type` 1). Returns the scale; the levels, offset by `top`, go to `signedLevels`.
    static func fitSymmetricScale(_ x: UnsafePointer<Float>, top: Int32, offset: Int, _ scratch: inout KQuantScratch) -> Float {
        // Sound: `x` is a super-block's 256 values (a fit: one group of them), `y` its bytes; indices stay inside.
        let n = 16
        let nmax = Float(top)
        var maxValue: Float = 0, amax: Float = 0
        for i in 0..<n {
            let ax = unsafe abs(x[i])
            if ax > amax { amax = ax; maxValue = unsafe x[i] }
        }
        if amax < 1e-15 {
            for i in 0..<n { scratch.signedLevels[offset + i] = 0 }
            return 0
        }
        func sums(_ iscale: Float) -> (Float, Float) {
            var sumLX: Float = 0, sumL2: Float = 0
            for i in 0..<n {
                let v = unsafe x[i]
                let l = Float(max(-top, min(top - 1, nearestInt(iscale * v))))
                let w = v * v
                sumLX += w * v * l
                sumL2 += w * l * l
            }
            return (sumLX, sumL2)
        }
        func keep(_ iscale: Float) {
            for i in 0..<n {
                let l = unsafe max(-top, min(top - 1, nearestInt(iscale * x[i])))
                scratch.signedLevels[offset + i] = Int8(truncatingIfNeeded: l + top)
            }
        }
        var iscale = -nmax / maxValue
        keep(iscale)
        var (sumLX, sumL2) = sums(iscale)
        var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            iscale = -(nmax + 0.1 * Float(step)) / maxValue
            (sumLX, sumL2) = sums(iscale)
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                keep(iscale)
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }

    /// Q6_K: per group of 16, a signed scale fitted to 6-bit levels; the 16 scales quantized
    /// to signed bytes against the largest in magnitude (f16 `d` = its scale / −128); then
    /// each element's level recomputed from the stored scales. An all-zero block is all zero.
    static func q6_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ scratch: inout KQuantScratch) {
        // Sound: `x` is a super-block's 256 values (a fit: one group of them), `y` its bytes; indices stay inside.
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for group in 0..<16 {
            let scale = unsafe fitSymmetricScale(x + 16 * group, top: 32, offset: 16 * group, &scratch)
            scratch.scales[group] = scale
            if abs(scale) > maxAbsScale {
                maxAbsScale = abs(scale)
                maxScale = scale
            }
        }
        if maxAbsScale < 1e-15 {
            for k in 0..<210 { unsafe store(UInt8(0), y, k) }
            return
        }
        let iscale = -128 / maxScale
        let dBits = halfBits(1 / iscale)
        let d = widen(dBits)
        var groupScales = [Int8](repeating: 0, count: 16)
        for group in 0..<16 {
            groupScales[group] = Int8(truncatingIfNeeded: min(127, nearestInt(iscale * scratch.scales[group])))
        }
        for group in 0..<16 {
            let groupScale = d * Float(groupScales[group])
            if groupScale == 0 { continue }
            for i in 0..<16 {
                let l = unsafe max(-32, min(31, nearestInt(x[16 * group + i] / groupScale)))
                scratch.signedLevels[16 * group + i] = Int8(l + 32)
            }
        }
        // Levels are 0…63: 4 low bits in `ql` (bytes 0–127), 2 high bits in `qh` (128–191).
        func level(_ i: Int) -> UInt8 { UInt8(bitPattern: scratch.signedLevels[i]) }
        for half in 0..<2 {
            let base = 128 * half
            for l in 0..<32 {
                let q1 = level(base + l), q2 = level(base + l + 32), q3 = level(base + l + 64), q4 = level(base + l + 96)
                unsafe store((q1 & 0xF) | ((q3 & 0xF) << 4), y, 64 * half + l)
                unsafe store((q2 & 0xF) | ((q4 & 0xF) << 4), y, 64 * half + 32 + l)
                unsafe store((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6), y, 128 + 32 * half + l)
            }
        }
        for group in 0..<16 { unsafe store(UInt8(bitPattern: groupScales[group]), y, 192 + group) }
        unsafe store(dBits, y, 208)
    }
}
