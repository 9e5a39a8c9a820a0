import Foundation

// What every test target of the package needs: where the package and the default model are,
// fresh temporary directories, and a seeded random generator. One copy, package-visible.

/// The package's root directory, found from this file's path.
package let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The path of `relative` under the package's root.
package func packagePath(_ relative: String) -> String {
    packageRoot.appendingPathComponent(relative).path
}

/// The default model's directory, as the CLI finds it: `$WEIGHTS_MODEL_DIR`, else
/// `all-MiniLM-L6-v2` in `$WEIGHTS_MODELS` (default `~/.cache/weights/models`). It need not
/// exist; ``installedModelDirectory()`` checks.
package func defaultModelDirectory() -> String {
    let environment = ProcessInfo.processInfo.environment
    return environment["WEIGHTS_MODEL_DIR"]
        ?? (environment["WEIGHTS_MODELS"] ?? NSHomeDirectory() + "/.cache/weights/models") + "/all-MiniLM-L6-v2"
}

/// The default model's directory.
///
/// - Throws: ``ModelMissing``, which names the set-up step, when the model is not installed.
package func installedModelDirectory() throws -> String {
    let directory = defaultModelDirectory()
    guard FileManager.default.fileExists(atPath: directory + "/model.safetensors") else {
        throw ModelMissing(directory: directory)
    }
    return directory
}

/// Whether to leave out the slowest tests: `WEIGHTS_SKIP_EXHAUSTIVE=1`, which scripts/sanitize
/// sets, since under a sanitizer's debug build the 2^32 walks and the language model's forward
/// passes take many minutes and exercise no code the other tests leave out.
package let skipsSlowTests: Bool = ProcessInfo.processInfo.environment["WEIGHTS_SKIP_EXHAUSTIVE"] == "1"

/// The Gemma 3 270M Q4_K_M GGUF that scripts/setup installs, under `$WEIGHTS_MODELS`.
///
/// - Throws: ``ModelMissing`` when it is not installed.
package func installedGemmaPath() throws -> String {
    let environment = ProcessInfo.processInfo.environment
    let models = environment["WEIGHTS_MODELS"] ?? NSHomeDirectory() + "/.cache/weights/models"
    let path = models + "/gemma-3-270m/gemma-3-270m-Q4_K_M.gguf"
    guard FileManager.default.fileExists(atPath: path) else { throw ModelMissing(directory: models + "/gemma-3-270m") }
    return path
}

/// The default model is not installed.
package struct ModelMissing: Error, CustomStringConvertible {
    package var directory: String
    package init(directory: String) { self.directory = directory }
    package var description: String { "the model is not installed in \(directory): run scripts/setup" }
}

/// A fresh empty directory, named after `prefix`; the caller removes it.
package func temporaryDirectory(prefix: String = "weights-tests") throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A small deterministic generator (SplitMix64), so property tests are reproducible.
package struct SeededGenerator: RandomNumberGenerator {
    package var state: UInt64

    package init(state: UInt64) { self.state = state }
    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    package mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box–Muller).
    package mutating func nextNormal() -> Double {
        let u = max(nextUnit(), 0x1p-60), v = nextUnit()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

/// The signal a Swift trap (a failed precondition) ends a process with: `ud2` raises SIGILL on
/// x86-64, `brk` SIGTRAP on ARM. Exit tests expect it: `.signal(trapSignal)`.
#if arch(x86_64)
package let trapSignal = SIGILL
#else
package let trapSignal = SIGTRAP
#endif
