import COpenBLAS

/// Which kernels the system OpenBLAS runs.
///
/// OpenBLAS picks its kernel family once, when the library loads: from
/// `OPENBLAS_CORETYPE` when that is set, else from the CPU model. The family decides the
/// speed of every matrix product: on an AVX-512 CPU, the AVX2 `Haswell` kernels run the
/// encoder about 1.6× slower than the `SkylakeX`/`Cooperlake` ones (see BENCHMARKS.md).
///
/// ```swift
/// print(BLASRuntime.coreName)   // "Cooperlake"
/// ```
public enum BLASRuntime {
    /// The kernel family OpenBLAS runs, e.g. `Haswell`, `SkylakeX`, `Cooperlake`, `Zen`.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
