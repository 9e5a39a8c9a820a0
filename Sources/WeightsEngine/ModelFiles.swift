#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Weights

/// Reading the small JSON files of a model directory.
enum ModelFiles {
    /// Decodes the JSON file at `path` as `T`.
    ///
    /// - Throws: `io` when the file cannot be read, `invalidArgument` when it is not the JSON
    ///   `T` expects; both name the file.
    static func decode<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        let bytes = try read(path)
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as WeightsError {
            throw error.in(file: path)
        } catch {
            throw WeightsError(.invalidArgument, "not the JSON expected: \(describe(error))", file: path)
        }
    }

    /// The whole file at `path`, through a mapping.
    static func read(_ path: String) throws -> [UInt8] {
        let storage = try ByteStorage.map(path: path)
        return withExtendedLifetime(storage) { Array(storage.bytes) }
    }

    /// Whether a regular file or directory exists at `path`.
    static func exists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// A one-line account of a decoding error, naming the key at fault.
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key '\(path(context.codingPath + [key]))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type at '\(path(context.codingPath))'"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "invalid JSON" : "invalid value at '\(path(context.codingPath))'"
        @unknown default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
