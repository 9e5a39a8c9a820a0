// libFuzzer entry point for the 'shard-index' target (see Fuzz/Harness and scripts/fuzz).
import WeightsFuzzHarness

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    unsafe fuzzOne("shard-index", data, size)
}
