import ArgumentParser
import Weights

import WeightsPlatform

/// Sizes written by people: "5GB" (decimal units), "2GiB" (binary units), or plain bytes.
enum ByteSize {
    static func parse(_ text: String) throws -> Int {
        let units: [(String, Int)] = [
            ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("tib", 1 << 40),
            ("kb", 1_000), ("mb", 1_000_000), ("gb", 1_000_000_000), ("tb", 1_000_000_000_000),
            ("k", 1_000), ("m", 1_000_000), ("g", 1_000_000_000), ("b", 1),
        ]
        let lower = text.lowercased().trimmingTrailingSpaces()
        for (suffix, multiplier) in units where lower.hasSuffix(suffix) {
            let number = lower.dropLast(suffix.count).trimmingCharacters(in: " ")
            if let value = Double(number), value > 0, value * Double(multiplier) < 9e18 {
                return Int(value * Double(multiplier))
            }
            throw ValidationError("invalid size '\(text)': expected a positive number with an optional unit, e.g. 5GB")
        }
        guard let value = Int(lower), value > 0 else {
            throw ValidationError("invalid size '\(text)': expected a positive number with an optional unit, e.g. 5GB")
        }
        return value
    }
}

extension Substring {
    func trimmingCharacters(in characters: Character) -> String {
        String(drop { $0 == characters }.reversed().drop { $0 == characters }.reversed())
    }
}
