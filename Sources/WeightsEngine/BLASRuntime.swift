import COpenBLAS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Which kernels the system OpenBLAS runs, and how to get faster ones on CPUs it does not know.
///
/// OpenBLAS picks its kernels once, when the library loads, from the CPU model, or from
/// `OPENBLAS_CORETYPE` when that is set. A release older than the CPU falls back to an older
/// family: Debian 12's 0.3.21 runs AMD Zen 5 with its Haswell (AVX2) kernels, which leaves
/// the CPU's AVX-512 unused and makes matrix products about 1.6× slower than its SkylakeX
/// kernels. Since the choice is made at load time, the only remedy inside a program is to
/// start it again with the variable set, which ``reexecuteForFasterKernels()`` does.
///
/// ```swift
/// BLASRuntime.reexecuteForFasterKernels()   // first thing in main; returns if nothing to do
/// print(BLASRuntime.coreName)               // "SkylakeX"
/// ```
public enum BLASRuntime {
    /// The kernel family OpenBLAS runs, e.g. `Haswell`, `SkylakeX`, `Zen`.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Families whose kernels use AVX-512.
    static let avx512Families: Set<String> = ["SkylakeX", "Cooperlake", "SapphireRapids"]

    /// `SkylakeX` when OpenBLAS runs a family without AVX-512 on a CPU that has the AVX-512
    /// subsets those kernels use (F, CD, BW, DQ, VL); otherwise `nil`.
    public static var fasterCoreType: String? {
        guard !avx512Families.contains(coreName) else { return nil }
        let needed: Set<Substring> = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        return needed.isSubset(of: cpuFlags()) ? "SkylakeX" : nil
    }

    /// Starts this program again with `OPENBLAS_CORETYPE` set to ``fasterCoreType``, when
    /// there is one and the variable is not set already (a choice made by the user stands).
    /// Returns when it has nothing to do, or when the re-execution fails.
    ///
    /// - Complexity: one `execv`, a few milliseconds, when it acts.
    public static func reexecuteForFasterKernels() {
        guard getenv("OPENBLAS_CORETYPE") == nil, let coreType = fasterCoreType else { return }
        setenv("OPENBLAS_CORETYPE", coreType, 1)
        #if os(Linux)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        #endif
        // Still here: the program goes on with the kernels it has.
    }

    /// The `flags` of the first processor in /proc/cpuinfo (empty elsewhere).
    static func cpuFlags() -> Set<Substring> {
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if text.hasPrefix("flags") {
                return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == ":" }))
            }
        }
        return []
    }
}
