extension GGUFArray {
    /// Calls `body` with the array's element bytes as they lie in the mapping (for strings:
    /// each a little-endian `UInt64` length and its bytes), for readers that decode a large
    /// array in one pass without making a value per element. The pointer must not escape.
    package func withUnsafeElementBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(storage) { () throws(E) -> R in
            // Sound: opening checked that `byteRange` lies in the storage, kept alive for the call.
            unsafe try body(UnsafeRawBufferPointer(rebasing: storage.bytes[byteRange]))
        }
    }
}
