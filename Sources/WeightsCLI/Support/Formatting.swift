import Weights

/// "1.227x": a size ratio to three decimals.
func formatRatio(_ ratio: Double) -> String {
    let thousandths = Int((ratio * 1000).rounded())
    let fraction = String(thousandths % 1000)
    return "\(thousandths / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)x"
}

/// "0.42 s".
func formatSeconds(_ seconds: Double) -> String {
    "\((seconds * 100).rounded() / 100) s"
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// "90.9 MB" for 90_868_376: decimal units, as file sizes on the model hub are shown.
func formatBytes(_ count: Int) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(count)
    var unit = 0
    while value >= 1000, unit < units.count - 1 {
        value /= 1000
        unit += 1
    }
    return unit == 0 ? "\(count) B" : "\((value * 10).rounded() / 10) \(units[unit])"
}
