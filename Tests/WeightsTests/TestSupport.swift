import Foundation
import Testing
import Weights

/// The bytes of a file with `json` as its header (its length field `declaredLength`, by default
/// the JSON's length) followed by `data`.
func fileBytes(json: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let header = Array(json.utf8)
    var bytes = withUnsafeBytes(of: (declaredLength ?? UInt64(header.count)).littleEndian) { Array($0) }
    bytes += header
    bytes += data
    return bytes
}

/// Parses `bytes` and returns the `WeightsError` it throws (failing the test when none).
@discardableResult
func readError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> WeightsError? {
    do {
        _ = try SafetensorsFile(bytes: bytes, name: "test.safetensors")
        Issue.record("expected an error, but the bytes parsed", sourceLocation: sourceLocation)
        return nil
    } catch let error as WeightsError {
        #expect(error.file == "test.safetensors", "the error must name the file", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The code of the error `body` throws, or `nil` when it does not throw.
func errorCode(_ body: () throws -> Void) -> WeightsError.Code? {
    do { try body() } catch let error as WeightsError { return error.code } catch { return nil }
    return nil
}

/// A fresh empty directory, removed by the caller.
func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("weights-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The package's root directory, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The default model's directory; tests that need it fail with a pointer to the set-up script.
func modelDirectory() throws -> String {
    let environment = ProcessInfo.processInfo.environment
    let directory = environment["WEIGHTS_MODEL_DIR"]
        ?? (environment["WEIGHTS_MODELS"] ?? NSHomeDirectory() + "/.cache/weights/models") + "/all-MiniLM-L6-v2"
    guard FileManager.default.fileExists(atPath: directory + "/model.safetensors") else {
        throw ModelMissing(directory: directory)
    }
    return directory
}

struct ModelMissing: Error, CustomStringConvertible {
    var directory: String
    var description: String { "the model is not installed in \(directory): run scripts/setup" }
}

/// A small deterministic generator (SplitMix64), so property tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(state: UInt64) { self.state = state }
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box–Muller).
    mutating func nextNormal() -> Double {
        let u = max(nextUnit(), 0x1p-60), v = nextUnit()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
