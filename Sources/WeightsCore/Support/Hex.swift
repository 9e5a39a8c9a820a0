/// Lower-case hexadecimal, the one encoding the package writes digests and escapes in.
///
/// ```swift
/// Hex.string([0xDE, 0xAD])   // "dead"
/// ```
package enum Hex {
    package static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends the two digits of `byte`, high nibble first.
    ///
    /// - Complexity: O(1).
    @inlinable
    package static func append(_ byte: UInt8, to out: inout [UInt8]) {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0xF)])
    }

    /// `bytes` as two lower-case digits each.
    ///
    /// - Complexity: O(*n*).
    package static func string(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes { append(byte, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }
}
