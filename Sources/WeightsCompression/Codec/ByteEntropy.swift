#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A quick estimate of how random a plane's bytes are, to spend little compression time on
/// planes that zstd cannot shrink.
///
/// The low planes of trained weights are mantissa bits, close to random: zstd at level 1
/// spends more time on them than on everything else in a chunk, to store most of them as they
/// are. A sample of the plane's bytes tells them apart from the planes that do compress.
///
/// ```swift
/// if ByteEntropy.sampledBits(of: plane) >= ByteEntropy.randomThreshold { /* fastest level */ }
/// ```
package enum ByteEntropy {
    /// Bits per byte at and above which a plane counts as random: an order-0 code would save
    /// at most 1.25% of it, less than zstd's Huffman literals need before it uses them.
    package static let randomThreshold = 7.9

    /// Every `stride`-th byte is counted.
    package static let stride = 16

    /// Samples below which no estimate is made (the estimate's bias, about 255 / (2 · n · ln 2)
    /// bits, is then under 0.05).
    package static let minimumSamples = 4096

    /// The order-0 entropy, in bits per byte, of every ``stride``-th byte of `bytes`; 0 when
    /// that is fewer than ``minimumSamples`` bytes.
    ///
    /// - Complexity: O(*n* / ``stride``).
    package static func sampledBits(of bytes: UnsafeRawBufferPointer) -> Double {
        let samples = (bytes.count + stride - 1) / stride
        guard samples >= minimumSamples else { return 0 }
        var counts = [Int](repeating: 0, count: 256)
        // Sound: every index `i` is below `bytes.count`; `counts` has 256 slots, one per value.
        unsafe counts.withUnsafeMutableBufferPointer { counts in
            var i = 0
            while i < bytes.count {
                unsafe counts[Int(bytes[i])] += 1
                i += stride
            }
        }
        let total = Double(samples)
        var bits = 0.0
        for count in counts where count > 0 {
            let p = Double(count) / total
            bits -= p * log2(p)
        }
        return bits
    }
}
