import Testing
import Weights

/// Builds GGUF bytes field by field, so that each reader rule can be broken on its own.
struct GGUFBuilder {
    struct TensorEntry {
        var name: [UInt8]
        var dimensions: [UInt64]
        var type: UInt32
        var offset: UInt64
        /// Extra bytes written in the dimension-count field's place when set.
        var dimensionCount: UInt32?
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var tensorCount: UInt64?
    var keyCount: UInt64?
    /// Encoded key/value pairs.
    var pairs: [[UInt8]] = []
    var tensors: [TensorEntry] = []
    var alignment = 32
    /// The data section's length; by default, up to the end of the last tensor.
    var dataLength: Int?

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        unsafe withUnsafeBytes(of: value.littleEndian) { unsafe Array($0) }
    }

    static func string(_ text: String) -> [UInt8] { string(Array(text.utf8)) }
    static func string(_ bytes: [UInt8]) -> [UInt8] { le(UInt64(bytes.count)) + bytes }

    /// Adds `key` with value type `type` and the encoded `payload`.
    mutating func add(_ key: String, type: UInt32, payload: [UInt8]) {
        pairs.append(GGUFBuilder.string(key) + GGUFBuilder.le(type) + payload)
    }

    mutating func add(_ key: String, uint32 value: UInt32) { add(key, type: 4, payload: GGUFBuilder.le(value)) }
    mutating func add(_ key: String, string value: String) { add(key, type: 8, payload: GGUFBuilder.string(value)) }

    /// An array payload: item type, count, items.
    static func array(type: UInt32, count: UInt64, items: [UInt8]) -> [UInt8] {
        le(type) + le(count) + items
    }

    mutating func tensor(_ name: String, dimensions: [UInt64], type: GGMLType = .f32, offset: UInt64 = 0) {
        tensors.append(TensorEntry(name: Array(name.utf8), dimensions: dimensions, type: type.rawValue, offset: offset))
    }

    /// The byte at which tensor infos end (before padding).
    var headerLength: Int { headerBytes().count }

    func headerBytes() -> [UInt8] {
        var bytes = magic + GGUFBuilder.le(version)
        bytes += GGUFBuilder.le(tensorCount ?? UInt64(tensors.count))
        bytes += GGUFBuilder.le(keyCount ?? UInt64(pairs.count))
        for pair in pairs { bytes += pair }
        for entry in tensors {
            bytes += GGUFBuilder.string(entry.name)
            bytes += GGUFBuilder.le(entry.dimensionCount ?? UInt32(entry.dimensions.count))
            for dimension in entry.dimensions { bytes += GGUFBuilder.le(dimension) }
            bytes += GGUFBuilder.le(entry.type)
            bytes += GGUFBuilder.le(entry.offset)
        }
        return bytes
    }

    func bytes() -> [UInt8] {
        var bytes = headerBytes()
        while bytes.count % alignment != 0 { bytes.append(0) }
        var length = 0
        for entry in tensors {
            guard let type = GGMLType(rawValue: entry.type) else { continue }
            let elements = entry.dimensions.reduce(UInt64(1)) { $0.multipliedReportingOverflow(by: $1).partialValue }
            let size = (elements / UInt64(type.blockSize)).multipliedReportingOverflow(by: UInt64(type.typeSize)).partialValue
            let (end, overflow) = entry.offset.addingReportingOverflow(size)
            if !overflow, end < 1 << 20 { length = max(length, Int(end)) }
        }
        bytes += (0..<(dataLength ?? length)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        return bytes
    }
}

/// Opens `bytes` and returns the `WeightsError` it throws (failing the test when none); checks
/// that the error names the file.
@discardableResult
func ggufError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> WeightsError? {
    do {
        _ = try GGUFFile(bytes: bytes, path: "test.gguf")
        Issue.record("expected an error, but the bytes opened", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.file == "test.gguf", "the error must name the file", sourceLocation: sourceLocation)
        return error
    }
}

