// libFuzzer entry point for the 'gguf' target (see Fuzz/Harness and scripts/fuzz).
import WeightsFuzzHarness

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    unsafe fuzzOne("gguf", data, size)
}
