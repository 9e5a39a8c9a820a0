import CWeightsSIMD

/// A per-row INT8 weight matrix (`rows` outputs × `columns` inputs, a value `q × scales[row]`)
/// packed for ``Int8Product``'s kernels: panels of 16 rows, the depth interleaved as the
/// chosen form reads it (pairs of 16-bit values for AVX2 and portable, quads of bytes and
/// per-row offset sums for AVX-512 VNNI; int8_gemm.c describes both).
///
/// Immutable once made, so it may be shared between threads.
///
/// - Complexity: O(rows × columns) to make; `2 × rows × columns` bytes (16-bit form) or
///   `rows × columns` bytes (VNNI form), plus the scales.
@safe  // Safety: owns the memory it points to (allocated in init, freed in deinit), never lent past `withPacked`.
package final class PackedInt8Matrix: @unchecked Sendable {  // immutable after init
    /// Output columns are produced in panels of this many; a share of the columns given to
    /// one thread must start on a multiple of it.
    package static let panelWidth = 16
    /// The most columns (the depth of a product) the kernels take: 127² × 65,536 < 2³¹, so
    /// their `Int32` sums cannot overflow.
    package static let maximumColumns = 65_536

    package let rows: Int
    package let columns: Int
    package let level: Int8Product.Level
    private let packed: UnsafeMutableRawPointer
    private let scales: [Float]

    /// Packs `values` (`rows × columns`, row-major) with one scale per row, for `level`.
    package init(values: UnsafePointer<Int8>, scales: UnsafePointer<Float>, rows: Int, columns: Int,
                 level: Int8Product.Level = .best) {
        precondition(rows > 0 && columns > 0 && columns <= Self.maximumColumns, "PackedInt8Matrix: bad sizes")
        self.rows = rows
        self.columns = columns
        self.level = level
        let count = weights_i8gemm_packed_bytes(rows, columns, level.rawValue)
        // Sound: the caller lends `rows` × `columns` values and `rows` scales (the init is
        // `unsafe` by its pointer arguments); `packed` gets the bytes the kernel writes for
        // this size and level (64-byte aligned for whole cache lines; its loads are unaligned).
        unsafe packed = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        unsafe weights_i8gemm_pack(values, columns, rows, columns, packed, level.rawValue)
        self.scales = unsafe Array(UnsafeBufferPointer(start: scales, count: rows))
    }

    deinit { unsafe packed.deallocate() }  // Sound: allocated in init, lent only inside `withPacked`.

    /// Bytes the packed values and scales take.
    package var byteCount: Int { weights_i8gemm_packed_bytes(rows, columns, level.rawValue) + 4 * rows }

    /// Calls `body` with the packed values and the scales.
    func withPacked<R>(_ body: (UnsafeRawPointer, UnsafePointer<Float>) -> R) -> R {
        // Sound: rows > 0, so the scales have a base address; `packed` lives as long as self,
        // which the caller holds for the call.
        withExtendedLifetime(self) {
            unsafe scales.withUnsafeBufferPointer { unsafe body(UnsafeRawPointer(packed), $0.baseAddress!) }
        }
    }
}
