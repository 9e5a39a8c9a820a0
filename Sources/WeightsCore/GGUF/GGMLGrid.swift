/// The IQ formats' lookup grids, expanded from ``GGMLGridData`` on first use, and their sign
/// table.
///
/// A grid is a table of short vectors (8 or 4 values) that a block's indices select; the
/// expanded forms are flat `[Float]` arrays, entry `i` at `i × width`.
enum GGMLGrid {
    // The entry counts are what the kernels' indices can reach (GGMLDequantizer reads the
    // grids without bounds checks): `expand` traps if the data holds another number of values.
    static let iq2xxs = expand(GGMLGridData.iq2xxs, GGMLGridData.iq2xxsLevels, entries: 256, width: 8)
    static let iq2xs = expand(GGMLGridData.iq2xs, GGMLGridData.iq2xsLevels, entries: 512, width: 8)
    static let iq2s = expand(GGMLGridData.iq2s, GGMLGridData.iq2sLevels, entries: 1024, width: 8)
    static let iq3xxs = expand(GGMLGridData.iq3xxs, GGMLGridData.iq3xxsLevels, entries: 256, width: 4)
    static let iq3s = expand(GGMLGridData.iq3s, GGMLGridData.iq3sLevels, entries: 512, width: 4)
    static let iq1s = expand(GGMLGridData.iq1s, GGMLGridData.iq1sLevels, entries: 2048, width: 8)

    /// 128 sign patterns: 7 stored bits, and an eighth that makes the number of set bits even.
    static let signs: [UInt8] = (0..<128).map { UInt8($0) | ($0.nonzeroBitCount % 2 == 1 ? 0x80 : 0) }

    /// Calls `body` with the expanded grid of `type` (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and
    /// IQ3_S, the grid formats with SIMD kernels), or with `nil` for any other type.
    ///
    /// - Complexity: O(1), but for expanding the grid on first use.
    static func withTable<R>(for type: GGMLType, _ body: (UnsafePointer<Float>?) -> R) -> R {
        let grid: [Float]? = switch type {
        case .iq2_XXS: iq2xxs
        case .iq2_XS: iq2xs
        case .iq2_S: iq2s
        case .iq3_XXS: iq3xxs
        case .iq3_S: iq3s
        default: nil
        }
        guard let grid else { return body(nil) }
        // Sound: the pointer is the array's storage, valid for the call, which `body` does not outlive.
        return unsafe grid.withUnsafeBufferPointer { unsafe body($0.baseAddress) }
    }

    /// The values `digits` (one ASCII digit per value, other characters ignored) index in
    /// `levels`: `entries` vectors of `width` values.
    static func expand(_ digits: String, _ levels: [Float], entries: Int, width: Int) -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(digits.utf8.count)
        for byte in digits.utf8 where byte >= 0x30 && byte < 0x30 + UInt8(levels.count) {
            values.append(levels[Int(byte - 0x30)])
        }
        precondition(values.count == entries * width, "a grid holds \(values.count) values, not \(entries) × \(width)")
        return values
    }
}
