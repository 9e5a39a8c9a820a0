import WeightsPlatform

/// A one-line progress bar on standard error.
///
/// It appears only when standard error is a terminal and the run has lasted a second, so
/// quick runs, pipes and logs stay clean; it redraws at most ten times a second.
///
/// ```swift
/// let bar = ProgressBar(label: "compress")
/// bar.update(done: 40_000_000, total: 90_000_000)  // compress [#########           ]  44%  40.0 MB / 90.0 MB
/// bar.finish()
/// ```
final class ProgressBar {
    private let label: String
    private let enabled: Bool
    private let start = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?
    private static let delay = Duration.seconds(1)
    private static let interval = Duration.milliseconds(100)
    private static let width = 30

    init(label: String, enabled: Bool = isatty(STDERR_FILENO) != 0) {
        self.label = label
        self.enabled = enabled
    }

    /// Redraws the bar for `done` of `total` bytes, if it is time to.
    func update(done: Int, total: Int) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard now - start >= Self.delay else { return }
        if let lastDraw, now - lastDraw < Self.interval, done < total { return }
        lastDraw = now
        Terminal.writeError("\r" + Self.line(label: label, done: done, total: total))
    }

    /// Erases the bar, if it was drawn.
    func finish() {
        guard lastDraw != nil else { return }
        Terminal.writeError("\r\u{1B}[K")
        lastDraw = nil
    }

    /// The bar's text for `done` of `total` bytes.
    static func line(label: String, done: Int, total: Int) -> String {
        let fraction = total > 0 ? min(1, Double(max(done, 0)) / Double(total)) : 1
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let percent = String(Int(fraction * 100))
        let padded = String(repeating: " ", count: 3 - percent.count) + percent
        return "\(label) [\(bar)] \(padded)%  \(formatBytes(done)) / \(formatBytes(total))"
    }
}
