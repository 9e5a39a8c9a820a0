import COpenBLAS

/// Which kernels the system OpenBLAS runs.
///
/// OpenBLAS picks its kernel family once, when the library loads: from
/// `OPENBLAS_CORETYPE` when that is set, else from the CPU model. On an AVX-512 CPU the AVX2
/// `Haswell` kernels run about half as fast as the `SkylakeX`/`Cooperlake` ones. That is why
/// the linear layers run on ``MatrixProduct`` where the CPU has AVX-512; the family still
/// decides the speed of the attention products, and of everything on other CPUs.
///
/// ```swift
/// print(BLASRuntime.coreName)   // "Cooperlake"
/// ```
package enum BLASRuntime {
    /// The kernel family OpenBLAS runs, e.g. `Haswell`, `SkylakeX`, `Cooperlake`, `Zen`.
    package static var coreName: String {
        // Sound: OpenBLAS returns a pointer to a static, NUL-terminated name (or NULL), never freed.
        guard let name = unsafe openblas_get_corename() else { return "unknown" }
        return unsafe String(cString: name)
    }
}
