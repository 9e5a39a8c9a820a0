import CWeightsSIMD

/// The encoder's element-wise and row-wise operations, on `Float` buffers in place.
///
/// Most are plain loops that the optimizer vectorizes; reductions keep eight partial sums
/// in a `SIMD8<Float>` so that they vectorize too. GELU and softmax, which evaluate `exp`
/// tens of millions of times per batch, run in C kernels (CWeightsSIMD) that use AVX-512 or
/// AVX2 + FMA when the CPU has them: the baseline SSE2 code Swift emits made them a quarter
/// of the encoder's time. Rows are contiguous and `count` elements long.
///
/// ```swift
/// var row: [Float] = [1, 2, 3, 4]
/// row.withUnsafeMutableBufferPointer { Operations.softmax($0) }   // sums to 1
/// ```
package enum Operations {
    /// Normalizes `row` to zero mean and unit variance, then scales by `gamma` and shifts by
    /// `beta`: y = (x − mean) / sqrt(var + epsilon) · gamma + beta, with the biased variance.
    ///
    /// - Complexity: O(*n*), two passes.
    package static func layerNorm(
        _ row: UnsafeMutableBufferPointer<Float>, gamma: UnsafeBufferPointer<Float>,
        beta: UnsafeBufferPointer<Float>, epsilon: Float
    ) {
        precondition(gamma.count == row.count && beta.count == row.count, "layerNorm: parameter sizes differ")
        let count = row.count
        guard count > 0 else { return }
        // Sound: every index is below `count`, the length of `row`, `gamma` and `beta` (checked
        // above); the vector loads read 8 floats at `index + 8 <= count`.
        let mean = unsafe sum(UnsafeBufferPointer(row)) / Float(count)
        var squares = SIMD8<Float>()
        let base = row.baseAddress!
        var index = 0
        while index + 8 <= count {
            let centered = unsafe UnsafeRawPointer(base + index).loadUnaligned(as: SIMD8<Float>.self) - mean
            squares += centered * centered
            index += 8
        }
        var variance = squares.sum()
        while index < count {
            let centered = unsafe base[index] - mean
            variance += centered * centered
            index += 1
        }
        variance /= Float(count)
        let inverse = 1 / (variance + epsilon).squareRoot()
        for i in 0..<count {
            unsafe base[i] = unsafe (base[i] - mean) * inverse * gamma[i] + beta[i]
        }
    }

    /// Which implementation runs GELU and softmax.
    package enum Kernel: Sendable, Hashable {
        /// AVX-512F, or AVX2 + FMA, when the CPU has them; the portable loop otherwise.
        case best
        /// AVX2 + FMA even where AVX-512 is available (the portable loop without AVX2): for
        /// tests and comparisons.
        case avx2
        /// The portable C loop: for tests and comparisons.
        case portable

        var code: Int32 {
            switch self {
            case .best: WEIGHTS_KERNEL_BEST
            case .avx2: WEIGHTS_ENGINE_KERNEL_AVX2
            case .portable: WEIGHTS_KERNEL_PORTABLE
            }
        }

        /// The instruction set ``best`` uses on this CPU: `avx512f`, `avx2+fma` or `portable`.
        package static var bestInstructionSet: String {
            switch weights_engine_kernel_level() {
            case 2: "avx512f"
            case 1: "avx2+fma"
            default: "portable"
            }
        }
    }

    /// GELU in its exact form, x · Φ(x) = x/2 · (1 + erf(x/√2)), not the tanh approximation.
    /// erf is evaluated to 1.5e-7 absolute (Abramowitz & Stegun 7.1.26).
    ///
    /// - Complexity: O(*n*).
    package static func gelu(_ values: UnsafeMutableBufferPointer<Float>, kernel: Kernel = .best) {
        guard let base = values.baseAddress else { return }
        // Sound: one row of `values.count` floats, all inside `values`; no bias is read.
        unsafe weights_gelu_rows(base, nil, 1, values.count, kernel.code)
    }

    /// GELU(matrix + bias), in place, for every `bias.count`-long row.
    static func addBiasAndGELU(_ matrix: UnsafeMutablePointer<Float>, rows: Int, bias: UnsafeBufferPointer<Float>) {
        // Sound: the caller lends `rows` × `bias.count` floats (the function is `unsafe` by its
        // pointer); the kernel reads `bias.count` biases and that many floats per row.
        unsafe weights_gelu_rows(matrix, bias.baseAddress, rows, bias.count, WEIGHTS_KERNEL_BEST)
    }

    /// Replaces `row` with softmax(row): e^(x − max) / Σ e^(x − max), with `exp` within
    /// 2 ulp.
    ///
    /// - Complexity: O(*n*), three passes.
    package static func softmax(_ row: UnsafeMutableBufferPointer<Float>, kernel: Kernel = .best) {
        guard let base = row.baseAddress else { return }
        unsafe weights_softmax(base, row.count, kernel.code)  // Sound: `row.count` floats, all inside `row`.
    }

    /// Divides `vector` by its Euclidean norm (the norm floored at 1e-12, as PyTorch's
    /// `normalize` does, so a zero vector stays zero).
    ///
    /// - Complexity: O(*n*).
    package static func l2Normalize(_ vector: UnsafeMutableBufferPointer<Float>) {
        // Sound: reads and writes `vector` at its own indices.
        let norm = unsafe dot(UnsafeBufferPointer(vector), UnsafeBufferPointer(vector)).squareRoot()
        let scale = 1 / Swift.max(norm, 1e-12)
        for i in vector.indices { unsafe vector[i] *= scale }
    }

    /// Adds `bias` to every `bias.count`-long row of `matrix`.
    package static func addBias(_ matrix: UnsafeMutableBufferPointer<Float>, _ bias: UnsafeBufferPointer<Float>) {
        let width = bias.count
        precondition(width > 0 && matrix.count % width == 0, "addBias: matrix is not a whole number of rows")
        var start = 0
        // Sound: `matrix.count` is a multiple of `width` (checked above), so `start + j` stays
        // below it; `j < width == bias.count`.
        while start < matrix.count {
            for j in 0..<width { unsafe matrix[start + j] += bias[j] }
            start += width
        }
    }

    /// The sum of `values`, with eight partial sums.
    package static func sum(_ values: UnsafeBufferPointer<Float>) -> Float {
        // Sound: the vector loads read 8 floats at `index + 8 <= count`, the rest one at `index < count`.
        guard let base = values.baseAddress else { return 0 }
        var partial = SIMD8<Float>()
        var index = 0
        while index + 8 <= values.count {
            unsafe partial += UnsafeRawPointer(base + index).loadUnaligned(as: SIMD8<Float>.self)
            index += 8
        }
        var total = partial.sum()
        while index < values.count {
            unsafe total += base[index]
            index += 1
        }
        return total
    }

    /// The dot product of two equally long vectors, with eight partial sums.
    package static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        precondition(a.count == b.count, "dot: lengths differ")
        // Sound: as in `sum`, for both vectors, which have the same length (checked above).
        guard let x = a.baseAddress, let y = b.baseAddress else { return 0 }
        var partial = SIMD8<Float>()
        var index = 0
        while index + 8 <= a.count {
            unsafe partial += UnsafeRawPointer(x + index).loadUnaligned(as: SIMD8<Float>.self)
                * UnsafeRawPointer(y + index).loadUnaligned(as: SIMD8<Float>.self)
            index += 8
        }
        var total = partial.sum()
        while index < a.count {
            unsafe total += x[index] * y[index]
            index += 1
        }
        return total
    }

    /// The largest of `values` (−∞ when empty).
    package static func maximum(_ values: UnsafeBufferPointer<Float>) -> Float {
        // Sound: as in `sum`.
        guard let base = values.baseAddress else { return -.infinity }
        var partial = SIMD8<Float>(repeating: -.infinity)
        var index = 0
        while index + 8 <= values.count {
            partial = unsafe pointwiseMax(partial, UnsafeRawPointer(base + index).loadUnaligned(as: SIMD8<Float>.self))
            index += 8
        }
        var largest = partial.max()
        while index < values.count {
            largest = unsafe Swift.max(largest, base[index])
            index += 1
        }
        return largest
    }
}
