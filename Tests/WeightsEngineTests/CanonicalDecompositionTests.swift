import Foundation
import Testing
import WeightsEngine

/// ``CanonicalDecomposition`` (the table BERT's accent stripping decomposes with) against
/// Foundation's NFD, which it replaces: every scalar of the table's Unicode version, and
/// strings whose marks need reordering.
@Suite struct CanonicalDecompositionTests {
    static func ours(_ values: [UInt32]) -> [UInt32] {
        var output: [UInt32] = []
        for value in values { CanonicalDecomposition.append(value, to: &output) }
        CanonicalDecomposition.order(&output, from: 0)
        return output
    }

    static func foundation(_ values: [UInt32]) -> [UInt32] {
        var scalars = String.UnicodeScalarView()
        for value in values { scalars.append(Unicode.Scalar(value)!) }
        return String(scalars).decomposedStringWithCanonicalMapping.unicodeScalars.map(\.value)
    }

    /// Whether `scalar` was assigned by the table's Unicode version (later ones may decompose
    /// in Foundation's newer data and not in the table).
    static func inTableVersion(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        let version = CanonicalDecomposition.unicodeVersion
        return age.major < version.major || (age.major == version.major && age.minor <= version.minor)
    }

    @Test func everyScalarDecomposesAsFoundationDoes() {
        var checked = 0, decomposing = 0, mismatches: [String] = []
        for value in UInt32(0)..<0x11_0000 {
            guard let scalar = Unicode.Scalar(value), Self.inTableVersion(scalar) else { continue }
            let expected = Self.foundation([value])
            checked += 1
            if expected != [value] { decomposing += 1 }
            if Self.ours([value]) != expected, mismatches.count < 10 {
                mismatches.append(String(value, radix: 16))
            }
        }
        #expect(mismatches.isEmpty, "scalars that decompose otherwise than in Foundation: \(mismatches)")
        #expect(checked > 140_000)
        // Hangul's 11,172 syllables and the table's 2,061 scalars (a few of them, CJK
        // compatibility ideographs, Foundation too maps to one scalar).
        #expect(decomposing > 13_000)
    }

    @Test func marksGoInCanonicalOrder() {
        // a, acute (230), grave below (220): the mark of the lower class goes first.
        #expect(Self.ours([0x61, 0x301, 0x316]) == [0x61, 0x316, 0x301])
        // ǖ (u, diaeresis, macron) with a dot below: the dot (220) moves before both (230).
        #expect(Self.ours([0x1D6, 0x323]) == Self.foundation([0x1D6, 0x323]))
        // Marks of one class keep their order; a starter (class 0) stops the reordering.
        #expect(Self.ours([0x61, 0x301, 0x300, 0x62, 0x316]) == [0x61, 0x301, 0x300, 0x62, 0x316])
        // Hangul: a syllable with and without a trailing consonant.
        #expect(Self.ours([0xAC00, 0xAC01]) == [0x1100, 0x1161, 0x1100, 0x1161, 0x11A8])
    }

    @Test func randomMarkSequencesMatchFoundation() {
        // Letters that decompose, plain letters and marks of many classes, mixed by a seeded
        // linear congruential generator (1 to 8 scalars a string).
        let pool: [UInt32] = [0x41, 0x61, 0xC5, 0xE9, 0x1E69, 0x1D6, 0x300, 0x301, 0x316, 0x323, 0x327, 0x334, 0x345,
                              0x5B0, 0x5C1, 0x93C, 0x94D, 0xF71, 0xF72, 0x1DCE, 0x302A, 0x3099, 0xAC01, 0x1D165, 0x1D16E]
        var seed: UInt64 = 0x2545_F491_4F6C_DD1D
        for _ in 0..<5_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let count = Int(seed >> 61) + 1
            var values: [UInt32] = []
            for _ in 0..<count {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                values.append(pool[Int(seed >> 33) % pool.count])
            }
            #expect(Self.ours(values) == Self.foundation(values), "\(values.map { String($0, radix: 16) })")
        }
    }
}
