import CWeightsSIMD

/// C = A · Bᵀ on 8-bit integers: the products of the encoder's INT8-compute mode
/// (CWeightsSIMD's int8_gemm.c, Spec/int8-compute.md).
///
/// B is a per-row INT8 weight matrix packed once (``PackedInt8Matrix``); A is a block of
/// activations quantized per row (``quantize(_:rows:columns:into:scales:level:)``). The sums
/// Σ a·b are exact in `Int32` on every form, AVX-512 VNNI, AVX2 and portable, so the forms
/// give identical results, floats included.
///
/// ```swift
/// let packed = PackedInt8Matrix(values: q, scales: s, rows: n, columns: k)
/// Int8Product.quantize(x, rows: m, columns: k, into: levels, scales: xScales, level: packed.level)
/// Int8Product.multiply(levels, scales: xScales, rows: m, packed, columns: 0..<n, bias: nil, into: y, ldc: n)
/// ```
package enum Int8Product {
    /// The form a product runs in.
    package enum Level: Int32, Sendable, Hashable {
        case portable = 0, avx2 = 1, vnni = 2

        /// The fastest form this CPU runs.
        package static var best: Level { Level(rawValue: weights_i8gemm_level(WEIGHTS_KERNEL_BEST))! }
        /// AVX2 where the CPU has it (even with VNNI), else portable: for tests.
        package static var avx2IfAvailable: Level { Level(rawValue: weights_i8gemm_level(WEIGHTS_ENGINE_KERNEL_AVX2))! }

        /// The forms this CPU runs, portable first.
        package static var available: [Level] {
            [.portable, .avx2, .vnni].filter { $0.rawValue <= best.rawValue }
        }
    }

    /// Bytes that `rows` rows of `columns` activations take, quantized for `level`.
    package static func activationByteCount(rows: Int, columns: Int, level: Level) -> Int {
        weights_i8gemm_activation_bytes(rows, columns, level.rawValue)
    }

    /// The most bytes `rows` rows of `columns` activations take in any form.
    package static func largestActivationByteCount(rows: Int, columns: Int) -> Int {
        max(activationByteCount(rows: rows, columns: columns, level: .avx2),
            activationByteCount(rows: rows, columns: columns, level: .vnni))
    }

    /// Quantizes each row of `x` (`rows` × `columns` floats, row stride `columns`) to INT8 in
    /// `level`'s layout: `scales[r] = max|row r| / 127`, levels `clamp(roundHalfEven(x /
    /// scale), -127, 127)`.
    ///
    /// - Complexity: O(rows × columns).
    package static func quantize(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into levels: UnsafeMutableRawPointer,
                                 scales: UnsafeMutablePointer<Float>, level: Level) {
        // Sound: the caller lends `rows` × `columns` floats in `x`, `rows` scales, and
        // `activationByteCount(rows:columns:level:)` bytes in `levels` (the function is `unsafe`
        // by its pointer arguments); the kernel reads and writes exactly those, unaligned.
        unsafe weights_i8gemm_quantize(x, columns, rows, columns, levels, scales, level.rawValue)
    }

    /// `c[i][j] = Float(Σ_p a[i][p]·b[j][p]) × aScales[i] × b.scales[j] (+ bias[j])` for the
    /// `rows` quantized rows and the output columns `columns`, which must start on a multiple
    /// of ``PackedInt8Matrix/panelWidth``. `c` has row stride `ldc`; the activations must be
    /// quantized for `b.level`. Threads may run products into disjoint columns at once.
    ///
    /// - Complexity: O(rows × columns.count × b.columns).
    package static func multiply(_ levels: UnsafeRawPointer, scales: UnsafePointer<Float>, rows: Int,
                                 _ b: PackedInt8Matrix, columns: Range<Int>, bias: UnsafePointer<Float>?,
                                 into c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(columns.lowerBound % PackedInt8Matrix.panelWidth == 0 && columns.upperBound <= b.rows,
                     "Int8Product.multiply: bad columns")
        // Sound: `b` lends its packed panels (sized by `weights_i8gemm_packed_bytes` for its own
        // rows, columns and level) and its `rows` scales for the call; the caller lends `rows`
        // rows of activations quantized for `b.level` over `b.columns` (≤ 65,536, checked when
        // packed), their scales, `b.rows` biases, and C with `rows` rows of `ldc` ≥ the columns
        // written; the precondition keeps the columns inside `b` and on a panel boundary.
        unsafe b.withPacked { packed, bScales in
            unsafe weights_i8gemm(rows, columns.lowerBound, columns.count, b.rows, b.columns, levels, scales,
                                  packed, bScales, bias, c, ldc, b.level.rawValue)
        }
    }

    /// The exact integer sums `c[i][j] = Σ_p a[i][p]·b[j][p]`, for tests and comparisons.
    package static func sums(_ levels: UnsafeRawPointer, rows: Int, _ b: PackedInt8Matrix, columns: Range<Int>,
                             into c: UnsafeMutablePointer<Int32>, ldc: Int) {
        precondition(columns.lowerBound % PackedInt8Matrix.panelWidth == 0 && columns.upperBound <= b.rows,
                     "Int8Product.sums: bad columns")
        // Sound: as in ``multiply(_:scales:rows:_:columns:bias:into:ldc:)``, without scales.
        unsafe b.withPacked { packed, _ in
            unsafe weights_i8gemm_sums(rows, columns.lowerBound, columns.count, b.rows, b.columns, levels, packed,
                                       c, ldc, b.level.rawValue)
        }
    }
}
