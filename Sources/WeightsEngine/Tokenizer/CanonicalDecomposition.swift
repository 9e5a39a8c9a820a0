/// Unicode's canonical decomposition (NFD) of scalar values, for BERT's accent stripping.
///
/// The table (`CanonicalDecompositionData.swift`, generated from Python's `unicodedata` by
/// `scripts/generate/canonical_decompositions.py`) maps each of the 2,061 scalars that
/// decompose to its full decomposition; Hangul syllables decompose by arithmetic; the marks
/// are then put in canonical order by the standard library's combining classes. It replaces
/// Foundation's `decomposedStringWithCanonicalMapping`, which on Linux brings in ICU: a
/// process that imports Foundation loads it at start-up, about 4 ms here.
///
/// ```swift
/// var scalars: [UInt32] = []
/// CanonicalDecomposition.append(0xE9, to: &scalars)  // é
/// CanonicalDecomposition.order(&scalars, from: 0)    // [0x65, 0x301]: e, combining acute
/// ```
package enum CanonicalDecomposition {
    /// Appends the full canonical decomposition of `value` (itself when it has none).
    ///
    /// - Complexity: O(1) (a hash lookup); the table is parsed at the first call (about 2,000
    ///   entries).
    package static func append(_ value: UInt32, to output: inout [UInt32]) {
        if value < 0xC0 {
            output.append(value)  // nothing below U+00C0 decomposes
        } else if value &- hangulFirst < hangulCount {
            // A syllable is a leading consonant, a vowel, and (unless index % 28 == 0) a trailing one.
            let index = value - hangulFirst
            output.append(0x1100 + index / (21 * 28))
            output.append(0x1161 + (index % (21 * 28)) / 28)
            if index % 28 != 0 { output.append(0x11A7 + index % 28) }
        } else if let parts = table[value] {
            output.append(contentsOf: parts)
        } else {
            output.append(value)
        }
    }

    /// Puts `scalars[start...]` in canonical order: each run of scalars whose combining class
    /// is not 0 sorted by class, stably.
    ///
    /// - Complexity: O(*n*) for text without marks; O(*k*²) for a run of *k* marks.
    package static func order(_ scalars: inout [UInt32], from start: Int) {
        var index = start + 1
        while index < scalars.count {
            let value = scalars[index]
            let rank = combiningClass(value)
            // Insertion sort: move `value` back past marks of a higher class.
            var place = index
            if rank != 0 {
                while place > start, combiningClass(scalars[place - 1]) > rank {
                    scalars[place] = scalars[place - 1]
                    place -= 1
                }
                scalars[place] = value
            }
            index += 1
        }
    }

    private static func combiningClass(_ value: UInt32) -> UInt8 {
        guard value >= 0x300, let scalar = Unicode.Scalar(value) else { return 0 }
        return scalar.properties.canonicalCombiningClass.rawValue
    }

    private static let hangulFirst: UInt32 = 0xAC00
    private static let hangulCount: UInt32 = 11_172

    /// Scalar → its full decomposition, parsed from ``data`` once.
    private static let table: [UInt32: [UInt32]] = {
        var table: [UInt32: [UInt32]] = [:]
        table.reserveCapacity(2_100)
        for entry in data.split(whereSeparator: { $0 == ";" || $0 == "\n" }) {
            let fields = entry.split(separator: ":")
            guard fields.count == 2, let key = UInt32(fields[0], radix: 16) else { continue }
            let parts = fields[1].split(separator: " ").compactMap { UInt32($0, radix: 16) }
            table[key] = parts
        }
        return table
    }()
}
