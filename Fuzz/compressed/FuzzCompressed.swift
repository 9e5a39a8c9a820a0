// libFuzzer entry point for the 'compressed' target (see Fuzz/Harness and scripts/fuzz).
import WeightsFuzzHarness
import WeightsPlatform

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    unsafe fuzzOne("compressed", data, size)
}

/// With WEIGHTS_FUZZ_WRITE_SEEDS=DIR, writes the made seeds into DIR and exits (scripts/fuzz
/// uses it to build the corpus); otherwise nothing.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    guard let directory = unsafe getenv("WEIGHTS_FUZZ_WRITE_SEEDS").map({ unsafe String(cString: $0) }) else { return 0 }
    do {
        print("wrote \(try FuzzHarness.writeCompressedSeeds(to: directory)) seeds to \(directory)")
        exit(0)
    } catch {
        fatalError("cannot write the seeds: \(error)")
    }
}
