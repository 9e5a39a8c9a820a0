/// The IQ formats' lookup grids, expanded from ``GGMLGridData`` on first use, and their sign
/// table.
///
/// A grid is a table of short vectors (8 or 4 values) that a block's indices select; the
/// expanded forms are flat `[Float]` arrays, entry `i` at `i × width`.
enum GGMLGrid {
    static let iq2xxs = expand(GGMLGridData.iq2xxs, GGMLGridData.iq2xxsLevels)
    static let iq2xs = expand(GGMLGridData.iq2xs, GGMLGridData.iq2xsLevels)
    static let iq2s = expand(GGMLGridData.iq2s, GGMLGridData.iq2sLevels)
    static let iq3xxs = expand(GGMLGridData.iq3xxs, GGMLGridData.iq3xxsLevels)
    static let iq3s = expand(GGMLGridData.iq3s, GGMLGridData.iq3sLevels)
    static let iq1s = expand(GGMLGridData.iq1s, GGMLGridData.iq1sLevels)

    /// 128 sign patterns: 7 stored bits, and an eighth that makes the number of set bits even.
    static let signs: [UInt8] = (0..<128).map { UInt8($0) | ($0.nonzeroBitCount % 2 == 1 ? 0x80 : 0) }

    /// The values `digits` (one ASCII digit per value, other characters ignored) index in
    /// `levels`.
    static func expand(_ digits: String, _ levels: [Float]) -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(digits.utf8.count)
        for byte in digits.utf8 where byte >= 0x30 && byte < 0x30 + UInt8(levels.count) {
            values.append(levels[Int(byte - 0x30)])
        }
        return values
    }
}
