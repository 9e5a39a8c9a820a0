/// BERT's text normalizer, as configured by the `BertNormalizer` entry of a
/// `tokenizer.json`. It works on Unicode scalar values and applies, in order:
///
/// 1. `cleanText`: drop NUL, U+FFFD and control/format/private-use characters;
///    turn every whitespace character (tab, newline, CR included) into a space.
/// 2. `handleChineseChars`: put a space before and after each CJK ideograph.
/// 3. `stripAccents`: canonical decomposition (NFD), then drop nonspacing marks.
///    `nil` in the file means "same as `lowercase`".
/// 4. `lowercase`: full lowercase mapping of each scalar, without context
///    (so a final capital sigma becomes σ, not ς, as in the reference).
///
/// Example: `"Héllo\tWORLD 東京"` normalizes to `"hello world  東  京 "`.
package struct BertNormalizer: Sendable, Equatable {
    package var cleanText = true
    package var handleChineseChars = true
    package var stripAccents = true
    package var lowercase = true

    package init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool = true, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }

    /// Normalizes `input` and appends the result to `output`.
    ///
    /// Complexity: O(n) in the number of scalars. ASCII is handled in a single
    /// pass without touching Unicode tables; when the text has scalars at or
    /// above U+00C0 and accents are stripped, the part from the first such
    /// scalar on is decomposed once (``CanonicalDecomposition``).
    func normalize(_ input: UnsafeBufferPointer<UInt32>, into output: inout [UInt32]) {
        let start = output.count
        // Pass 1: cleaning, CJK spacing and ASCII lowercasing, into an
        // unsafe buffer sized for the worst case (three scalars per CJK ideograph).
        var firstNonASCII = -1
        var firstDecomposable = -1
        output.append(contentsOf: repeatElement(0, count: input.count * (handleChineseChars ? 3 : 1)))
        // Sound: `output` was just grown by the worst case, 3 scalars per input scalar with CJK
        // spacing, else 1, so `base[count…count + 2]` stays inside the buffer, valid in the closure.
        let written = unsafe output.withUnsafeMutableBufferPointer { buffer -> Int in
            let base = unsafe buffer.baseAddress! + start
            var count = 0
            for unsafe value in unsafe input {
                // Both tests answer ASCII with range checks alone.
                if cleanText {
                    if BertCharacters.isRemovedByCleaning(value) { continue }
                    if BertCharacters.isWhitespace(value) {
                        unsafe base[count] = 0x20
                        count += 1
                        continue
                    }
                }
                if value < 0x80 {
                    unsafe base[count] = lowercase && value &- 0x41 < 26 ? value + 0x20 : value
                    count += 1
                    continue
                }
                if firstNonASCII < 0 { firstNonASCII = start + count }
                // U+00C0 is the first scalar with a canonical decomposition.
                if firstDecomposable < 0 && value >= 0xC0 { firstDecomposable = start + count }
                if handleChineseChars && BertCharacters.isCJKIdeograph(value) {
                    unsafe base[count] = 0x20
                    unsafe base[count + 1] = value
                    unsafe base[count + 2] = 0x20
                    count += 3
                } else {
                    unsafe base[count] = value
                    count += 1
                }
            }
            return count
        }
        output.removeSubrange((start + written)...)
        if firstNonASCII < 0 { return }

        if stripAccents && firstDecomposable >= 0 {
            // Scalars before the first one >= U+00C0 neither decompose nor
            // reorder, so only the rest goes through NFD.
            decomposeAndStripMarks(&output, from: firstDecomposable)
        }
        if lowercase {
            lowercaseScalars(&output, from: firstNonASCII)
        }
    }

    /// Normalizes a `String`: what the tokenizer sees before it splits words.
    package func normalize(_ text: String) -> String {
        let input = Array(text.unicodeScalars.lazy.map(\.value))
        var output: [UInt32] = []
        unsafe input.withUnsafeBufferPointer { unsafe normalize($0, into: &output) }  // Sound: used inside the closure.
        var scalars = String.UnicodeScalarView()
        for value in output {
            if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
        }
        return String(scalars)
    }

    /// Replaces `buffer[start...]` by its NFD form with nonspacing marks removed.
    private func decomposeAndStripMarks(_ buffer: inout [UInt32], from start: Int) {
        var decomposed: [UInt32] = []
        decomposed.reserveCapacity(buffer.count - start + 8)
        for value in buffer[start...] where Unicode.Scalar(value) != nil {
            CanonicalDecomposition.append(value, to: &decomposed)
        }
        CanonicalDecomposition.order(&decomposed, from: 0)
        buffer.removeSubrange(start...)
        for value in decomposed where !BertCharacters.isNonspacingMark(value) { buffer.append(value) }
    }

    /// Lowercases `buffer[start...]` in place with each scalar's full
    /// lowercase mapping. ASCII needs it too: decomposition turns `É` into an
    /// ASCII `E` and a combining accent.
    private func lowercaseScalars(_ buffer: inout [UInt32], from start: Int) {
        var index = start
        while index < buffer.count {
            let value = buffer[index]
            index += 1
            if value < 0x80 {
                if value &- 0x41 < 26 { buffer[index - 1] = value + 0x20 }
                continue
            }
            guard let scalar = Unicode.Scalar(value),
                  scalar.properties.changesWhenLowercased else { continue }
            let mapping = scalar.properties.lowercaseMapping.unicodeScalars
            if mapping.count == 1 {
                buffer[index - 1] = mapping.first!.value
            } else {
                // A few scalars lowercase to several (U+0130 to i + U+0307).
                buffer.replaceSubrange(index - 1 ..< index, with: mapping.map(\.value))
                index += mapping.count - 1
            }
        }
    }
}
