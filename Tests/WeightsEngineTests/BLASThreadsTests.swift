#if canImport(Glibc)
import Glibc
#endif
import Testing
import WeightsEngine

/// `BLAS.singleThreaded`, which every model load and the `weights` command's entry point run
/// first: OpenBLAS's idle workers, which spin for a tenth of a second after the library loads,
/// must be gone after it.
@Suite struct BLASThreadsTests {
    /// The flag OpenBLAS's pthreads build keeps while its thread server runs (exported, in no
    /// header), read now; `nil` in builds without one, where there is nothing to stop.
    static func serverRunning() -> Int32? {
        // RTLD_DEFAULT is the null handle on glibc: look in every loaded library.
        guard let symbol = unsafe dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_server_avail") else { return nil }
        // Sound: the symbol is an `int` of the loaded OpenBLAS, which stays loaded; read once.
        return unsafe symbol.load(as: Int32.self)
    }

    @Test(.enabled(if: serverRunning() != nil, "this OpenBLAS has no thread server"))
    func singleThreadedStopsOpenBLASWorkers() {
        BLAS.singleThreaded
        #expect(Self.serverRunning() == 0, "OpenBLAS's thread server still runs after BLAS.singleThreaded")
    }
}
