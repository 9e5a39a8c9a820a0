import Weights

import WeightsPlatform

/// The --report table: one row per converted tensor.
enum ConversionTable {
    static func render(_ report: ConversionReport) -> String {
        let header = ["name", "from", "to", "max abs error", "rms error", "sqnr dB", "cosine", "overflows"]
        let rows = report.tensors.map { tensor -> [String] in
            let accuracy = tensor.accuracy
            // A compressed-tensors weight is named by its scheme: its stored dtype (I32 for
            // packed INT4) says nothing of what it holds.
            return [tensor.name, tensor.sourceDType.rawValue, tensor.scheme ?? tensor.dtype.rawValue,
                    accuracy.map { scientific($0.maxAbsoluteError) } ?? "-",
                    accuracy.map { scientific($0.rmsError) } ?? "-",
                    accuracy.map { fixed($0.sqnrDecibels, digits: 1) } ?? "-",
                    accuracy.map { fixed($0.cosineSimilarity, digits: 6) } ?? "-",
                    String(tensor.overflowCount)]
        }
        var lines = TextTable.render(header: header, rows: rows, rightAligned: [3, 4, 5, 6, 7])
        lines.append("")
        lines.append("\(report.tensors.count) tensors converted, \(report.overflowCount) overflows")
        return lines.joined(separator: "\n")
    }

    /// "1.234e-03": four significant digits.
    static func scientific(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        guard value != 0 else { return "0" }
        var exponent = Int((log10(value.magnitude)).rounded(.down))
        var mantissa = value / pow(10, Double(exponent))
        if (mantissa.magnitude * 1000).rounded() >= 10_000 {
            exponent += 1
            mantissa /= 10
        }
        let sign = exponent < 0 ? "-" : "+"
        let digits = String(abs(exponent))
        return fixed(mantissa, digits: 3) + "e" + sign + (digits.count < 2 ? "0" : "") + digits
    }

    /// `value` with `digits` decimals; "inf" and "nan" spelled out.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        let scale = pow(10, Double(digits))
        let scaled = (value.magnitude * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled - Double(whole) * scale)
        var fractionText = String(fraction)
        fractionText = String(repeating: "0", count: max(0, digits - fractionText.count)) + fractionText
        return (value < 0 && scaled != 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + fractionText : "")
    }
}
