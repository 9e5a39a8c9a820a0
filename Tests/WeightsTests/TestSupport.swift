import Foundation
import Testing
import Weights
@_exported import WeightsTestSupport

/// The bytes of a file with `json` as its header (its length field `declaredLength`, by default
/// the JSON's length) followed by `data`.
func fileBytes(json: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let header = Array(json.utf8)
    var bytes = unsafe withUnsafeBytes(of: (declaredLength ?? UInt64(header.count)).littleEndian) { unsafe Array($0) }
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

/// The default model's directory; tests that need it fail with a pointer to the set-up script.
func modelDirectory() throws -> String { try installedModelDirectory() }
