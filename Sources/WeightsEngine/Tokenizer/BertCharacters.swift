/// Character classes used by BERT's normalizer and pre-tokenizer, defined so
/// that they agree with the Hugging Face `tokenizers` library code point for
/// code point.
///
/// `tokenizers` takes general categories (control, format, private use,
/// punctuation, nonspacing mark) from the `unicode_categories` crate, whose
/// tables are those of Unicode 8.0. A character assigned after 8.0 is
/// therefore neither a control character, nor punctuation, nor an accent to
/// strip, as far as the reference tokenizer is concerned: `U+061D` (Arabic end
/// of text mark, Unicode 14) stays inside its word, and `U+13430` (an Egyptian
/// format control, Unicode 12) is kept instead of being removed. Swift's own
/// tables are newer, so ``legacyCategory(_:)`` maps every scalar to the
/// category it had in Unicode 8.0. Whitespace and case mappings come from Rust's
/// standard library, which follows current Unicode, as Swift does.
///
/// All functions take a scalar value and run in O(1); ASCII is answered by
/// range checks without looking at Unicode properties.
package enum BertCharacters {
    /// The general category `scalar` had in Unicode 8.0; `.unassigned` for
    /// characters added later.
    static func legacyCategory(_ scalar: Unicode.Scalar) -> Unicode.GeneralCategory {
        // Characters whose category changed after Unicode 8.0, found by
        // comparing every code point with `tokenizers` (the test reading
        // Fixtures/minilm/unicode_table.json fails if this list is incomplete).
        switch scalar.value {
        case 0x166D: return .otherPunctuation  // CANADIAN SYLLABICS CHI SIGN, So today
        case 0x111C9: return .otherPunctuation  // SHARADA SANDHI MARK, Mn today
        case 0x1734: return .nonspacingMark  // HANUNOO SIGN PAMUDPOD, Mc today
        case 0x1171E: return .nonspacingMark  // AHOM CONSONANT SIGN MEDIAL RA, Mc today
        case 0x1885, 0x1886: return .otherLetter  // MONGOLIAN LETTER ALI GALI (THREE) BALUDA, Mn today
        case 0xA9BD: return .spacingMark  // JAVANESE CONSONANT SIGN KERET, Mn today
        default: break
        }
        let properties = scalar.properties
        guard let age = properties.age, age.major < 8 || (age.major == 8 && age.minor == 0) else {
            return .unassigned
        }
        return properties.generalCategory
    }

    /// Removed by `clean_text`: NUL, U+FFFD, and "other" characters
    /// (Cc, Cf, Co; not Cn) except tab, newline and carriage return.
    @inline(__always)
    static func isRemovedByCleaning(_ value: UInt32) -> Bool {
        if value < 128 {
            // C0 controls and DEL, including VT and FF but not tab, LF or CR.
            return (value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D) || value == 0x7F
        }
        if value == 0xFFFD { return true }
        guard let scalar = Unicode.Scalar(value) else { return false }
        switch legacyCategory(scalar) {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// Whitespace as Rust's `char::is_whitespace` (the White_Space property).
    @inline(__always)
    static func isWhitespace(_ value: UInt32) -> Bool {
        if value < 128 { return value == 0x20 || (0x09...0x0D).contains(value) }
        guard let scalar = Unicode.Scalar(value) else { return false }
        return scalar.properties.isWhitespace
    }

    /// BERT punctuation: the ASCII ranges 33-47, 58-64, 91-96, 123-126
    /// (which include symbols such as `$`, `+`, `^`) plus every character whose
    /// (Unicode 8.0) general category starts with P.
    @inline(__always)
    package static func isPunctuation(_ value: UInt32) -> Bool {
        if value < 128 {
            return (33...47).contains(value) || (58...64).contains(value)
                || (91...96).contains(value) || (123...126).contains(value)
        }
        guard let scalar = Unicode.Scalar(value) else { return false }
        switch legacyCategory(scalar) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// A nonspacing mark (Mn in Unicode 8.0): what accent stripping removes
    /// after canonical decomposition.
    @inline(__always)
    static func isNonspacingMark(_ value: UInt32) -> Bool {
        if value < 0x300 { return false }
        guard let scalar = Unicode.Scalar(value) else { return false }
        return legacyCategory(scalar) == .nonspacingMark
    }

    /// The CJK ideograph ranges that BERT surrounds with spaces, so that each
    /// ideograph becomes a word of its own. Hiragana, katakana and hangul are
    /// not among them.
    @inline(__always)
    static func isCJKIdeograph(_ value: UInt32) -> Bool {
        if value < 0x3400 { return false }
        return (0x4E00...0x9FFF).contains(value)
            || (0x3400...0x4DBF).contains(value)
            || (0x20000...0x2A6DF).contains(value)
            || (0x2A700...0x2B73F).contains(value)
            || (0x2B740...0x2B81F).contains(value)
            || (0x2B920...0x2CEAF).contains(value)
            || (0xF900...0xFAFF).contains(value)
            || (0x2F800...0x2FA1F).contains(value)
    }
}
