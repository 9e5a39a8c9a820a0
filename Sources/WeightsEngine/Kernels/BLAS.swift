import COpenBLAS
import WeightsPlatform

/// Matrix products through the system BLAS (OpenBLAS), on row-major `Float` matrices.
package enum BLAS {
    /// C = alpha · A · Bᵀ + beta · C, where A is m × k (row stride `lda`), B is n × k (row
    /// stride `ldb`, so a `[out, in]` weight matrix as stored), and C is m × n (row stride `ldc`).
    @inline(__always)
    static func multiplyTransposed(
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        into c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, k: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        // Sound: the caller lends A (m rows of k, `lda` apart), B (n rows of k, `ldb` apart) and
        // C (m rows of n, `ldc` apart), valid for the call (the function is `unsafe` by its
        // pointers); `blasint(_:)` traps on a size past Int32 rather than wrapping.
        unsafe cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// C = A · B, where A is m × k (row stride `lda`), B is k × n (row stride `ldb`), and C is
    /// m × n (row stride `ldc`).
    @inline(__always)
    static func multiply(
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        into c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, k: Int
    ) {
        // Sound: as above, with B k rows of n.
        unsafe cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(k),
                    1, a, blasint(lda), b, blasint(ldb), 0, c, blasint(ldc))
    }

    /// Makes OpenBLAS run every call on the calling thread. Done once, when a model starts
    /// loading, before the first product: the engine shares work out itself (``Parallel``).
    /// OpenBLAS's own threading is process-wide, so letting calls change it would let
    /// concurrent calls change each other's thread count, and with it the last bits of their
    /// results (OpenBLAS takes other code paths for small matrices when single-threaded).
    ///
    /// Its worker threads, then idle for good, are stopped too where the library allows
    /// (`weights_openblas_stop_workers`): an idle worker spins for about a tenth of a second
    /// after the process starts, which on two cores took 40 ms of CPU from a 75 ms
    /// `weights embed` (system time 64 → 20 ms, as with `OPENBLAS_NUM_THREADS=1`).
    /// A process that links the engine but runs no model (the `weights` command decompressing
    /// a file) has the same workers spinning beside its own threads, so its entry point asks
    /// for this first too.
    package static let singleThreaded: Void = {
        openblas_set_num_threads(1)
        _ = weights_openblas_stop_workers()
    }()
}
