// libFuzzer entry point for the 'model-directory' target (see Fuzz/Harness and scripts/fuzz).
import WeightsFuzzHarness

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    unsafe fuzzOne("model-directory", data, size)
}
