import CWeightsSIMD

/// C = A · Bᵀ with B a weight matrix in its stored precision: the product of every linear
/// layer, on the package's own AVX-512 kernel (CWeightsSIMD's gemm.c).
///
/// Why not BLAS here: OpenBLAS fixes its kernels when it loads, and an environment with
/// `OPENBLAS_CORETYPE=Haswell` keeps it on AVX2 even on an AVX-512 CPU, at about half the
/// speed (see ``BLASRuntime``). This kernel checks the CPU itself, so the encoder's speed does
/// not depend on that setting. It also reads F16, INT8 and the hub's INT4 and FP8 weights as
/// stored and converts them while packing, where BLAS needed a widened copy of the whole matrix
/// first.
///
/// Where ``isAccelerated`` is false (no AVX-512F/BW/VL), the encoder keeps using BLAS; the
/// attention products (Q·Kᵀ and P·V, per head) use BLAS everywhere.
///
/// ```swift
/// // c (2 × 3) = a (2 × 4) · w (3 × 4)ᵀ
/// MatrixProduct.multiplyTransposed(a, lda: 4, .f32(w), ldb: 4, into: c, ldc: 3, m: 2, n: 3, k: 4)
/// ```
package enum MatrixProduct {
    /// The B operand: `n` rows of `k` elements, row stride `ldb` elements.
    @unsafe  // Unsafe: reads through a pointer it does not own; valid only inside the scope that lends the bytes.
    package enum Operand {
        case f32(UnsafePointer<Float>)
        /// Widened exactly, as `FloatFormat.convert` does.
        case f16(UnsafePointer<Float16>)
        /// Row j's values are `Float(q) * scales[j]`, rounded to `Float` as dequantizing does.
        case int8(UnsafePointer<Int8>, scales: UnsafePointer<Float>)
        /// A layout of the hub's quantized checkpoints (`WEIGHTS_GEMM_PACKED4`, `_PACKED8` or
        /// `_F8E4M3`) with its scales, rows `stride` entries apart (which the call's `ldb`
        /// then does not give): widened as `weights_gemm_widen` widens it.
        case scaled(UnsafeRawPointer, format: Int32, stride: Int, scales: weights_gemm_scales)
    }

    /// Which implementation runs the product.
    package enum Kernel: Sendable, Hashable {
        /// AVX-512 when ``isAccelerated``, else the portable loop.
        case best
        /// A plain C loop, one dot product per element: slow; for tests and comparisons.
        case portable
    }

    /// True when ``multiplyTransposed(_:lda:_:ldb:into:ldc:m:n:k:kernel:)`` runs the AVX-512
    /// kernel on this CPU; when false, BLAS is the faster choice.
    package static var isAccelerated: Bool { weights_sgemm_accelerated() }

    /// C = A · Bᵀ, where A is m × k (row stride `lda`), B is n × k (row stride `ldb`), and C
    /// is m × n (row stride `ldc`), overwritten: k = 0 gives zeros. Threads may run products
    /// concurrently into disjoint parts of C.
    ///
    /// - Complexity: O(m × n × k).
    package static func multiplyTransposed(
        _ a: UnsafePointer<Float>, lda: Int, _ b: Operand, ldb: Int,
        into c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, k: Int, kernel: Kernel = .best
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0 && lda >= k && ldb >= k && ldc >= n, "multiplyTransposed: bad sizes")
        let code = kernel == .best ? WEIGHTS_KERNEL_BEST : WEIGHTS_KERNEL_PORTABLE
        // Sound: the caller lends A (m rows, `lda` apart), B (n rows, `ldb` or `stride` apart,
        // with n scales for INT8 and the scale blocks the description covers for `.scaled`) and
        // C (m rows, `ldc` apart), valid for the call: the function is `unsafe` by its pointer
        // arguments. The C kernel reads k entries of each row of A and B and writes n entries of
        // each row of C, which the preconditions keep within those strides; it needs no
        // alignment (unaligned loads; its aligned ones are on its own packing buffers).
        switch unsafe b {
        case .f32(let values):
            unsafe weights_sgemm_nt(m, n, k, a, lda, values, ldb, WEIGHTS_GEMM_F32, nil, c, ldc, code)
        case .f16(let values):
            unsafe weights_sgemm_nt(m, n, k, a, lda, values, ldb, WEIGHTS_GEMM_F16, nil, c, ldc, code)
        case .int8(let values, let scales):
            unsafe weights_sgemm_nt(m, n, k, a, lda, values, ldb, WEIGHTS_GEMM_INT8, scales, c, ldc, code)
        case .scaled(let values, let format, let stride, let scales):
            precondition(stride >= k, "multiplyTransposed: bad sizes")
            unsafe withUnsafePointer(to: scales) { scales in
                unsafe weights_sgemm_nt_scaled(m, n, k, a, lda, values, stride, format, scales, c, ldc, code)
            }
        }
    }
}
