/// The header of a safetensors file: its metadata and its tensors, in data order.
///
/// Decoding applies every rule the reference reader applies, in the same order, and a few
/// stricter ones (duplicate names, a tensor named `__metadata__`). Encoding writes the compact
/// JSON the reference writer writes, padded with spaces to a multiple of 8 bytes.
///
/// ```swift
/// let header = try SafetensorsHeader.decode(jsonBytes)
/// header.tensors.map(\.name)     // in the order their bytes appear
/// ```
public struct SafetensorsHeader: Sendable, Hashable {
    /// The largest header the reference accepts, in bytes.
    public static let maximumLength = 100_000_000
    /// The key that holds file-level metadata instead of a tensor.
    public static let metadataKey = "__metadata__"

    /// String-to-string metadata, or `nil` when the header has none.
    public var metadata: [String: String]?
    /// Every tensor, ordered by its data offsets.
    public var tensors: [TensorInfo]

    public init(metadata: [String: String]?, tensors: [TensorInfo]) {
        self.metadata = metadata
        self.tensors = tensors
    }

    /// The end of the last tensor: the size the data section must have.
    public var dataSize: Int { tensors.last?.dataOffsets.upperBound ?? 0 }
}

// MARK: - Decoding

extension SafetensorsHeader {
    /// Decodes and validates header JSON (the `N` bytes after the length prefix).
    ///
    /// - Parameters:
    ///   - json: The header bytes, padding included.
    ///   - fileOffset: Where `json` starts in its file, for error offsets (8 in a file).
    /// - Throws: ``WeightsError`` with code `invalidHeader`, `invalidHeaderDeserialization`,
    ///   `duplicateTensorName`, `reservedTensorName`, `invalidOffset`, `validationOverflow`,
    ///   `misalignedSlice` or `tensorInvalidInfo`.
    /// - Complexity: O(*n* log *n*) for *n* tensors, O(*b*) in the header's bytes.
    public static func decode(_ json: UnsafeRawBufferPointer, fileOffset: Int = 8) throws -> SafetensorsHeader {
        try decodeIndexed(json, fileOffset: fileOffset).header
    }

    /// Decodes and validates, and also returns each name's position in `tensors`: the reader
    /// keeps it as its lookup table, and building it is how duplicates are found.
    static func decodeIndexed(_ json: UnsafeRawBufferPointer, fileOffset: Int) throws
        -> (header: SafetensorsHeader, index: [UTF8Key: Int])
    {
        try checkUTF8(json, fileOffset: fileOffset)
        var (metadata, entries) = try parseEntries(json, fileOffset: fileOffset)
        // Writers list tensors in data order, so the sort is nearly always a no-op: check first.
        let inOrder = zip(entries, entries.dropFirst()).allSatisfy { ($0.begin, $0.end) <= ($1.begin, $1.end) }
        if !inOrder { entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) } }
        let index = try indexNames(entries)
        let tensors = try validate(entries)
        return (SafetensorsHeader(metadata: metadata, tensors: tensors), index)
    }

    /// Each name's position; a name seen twice is `duplicateTensorName`.
    private static func indexNames(_ entries: [Entry]) throws -> [UTF8Key: Int] {
        var index = [UTF8Key: Int](minimumCapacity: entries.count)
        for (position, entry) in entries.enumerated() {
            guard index.updateValue(position, forKey: UTF8Key(entry.name)) == nil else {
                throw WeightsError(.duplicateTensorName, "tensor '\(entry.name)' appears twice in the header", tensor: entry.name)
            }
        }
        return index
    }

    private static func checkUTF8(_ json: UnsafeRawBufferPointer, fileOffset: Int) throws {
        if isASCII(json) { return }
        var iterator = json.makeIterator()
        var decoder = UTF8()
        var position = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): position += UTF8.width(scalar)
            case .emptyInput: return
            case .error:
                throw WeightsError(.invalidHeader, "header is not valid UTF-8 near header byte \(position)",
                                   offset: fileOffset + position)
            }
        }
    }

    /// Whether every byte is below 0x80, checked eight bytes at a time: headers are nearly
    /// always ASCII, and this spares the scalar-by-scalar decoder.
    private static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
            high |= base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            high |= UInt64(bytes[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    /// A tensor entry as parsed, before validation; offsets stay 64-bit until checked.
    struct Entry {
        var name: String
        var dtype: DType
        /// Dimensions above `Int.max` are kept as `-1` and flagged, to be refused in rule order.
        var shape: [Int]
        var hasHugeDimension: Bool
        var begin: UInt64
        var end: UInt64
    }

    private static func parseEntries(_ json: UnsafeRawBufferPointer, fileOffset: Int) throws -> ([String: String]?, [Entry]) {
        var scanner = JSONScanner(json, base: fileOffset)
        var metadata: [String: String]?
        var sawMetadata = false
        var entries: [Entry] = []
        entries.reserveCapacity(json.count / 80)
        var more = try scanner.beginObject()
        while more {
            let key = try scanner.readKey()
            if key == metadataKey {
                guard !sawMetadata else { throw scanner.error("duplicate key \"\(metadataKey)\"") }
                sawMetadata = true
                metadata = try readMetadata(&scanner)
            } else {
                entries.append(try readEntry(&scanner, name: key))
            }
            more = try scanner.continueObject()
        }
        scanner.skipWhitespace()
        guard scanner.isAtEnd else { throw scanner.error("trailing characters after the header object") }
        return (metadata, entries)
    }

    private static func readMetadata(_ scanner: inout JSONScanner) throws -> [String: String]? {
        if try scanner.peek() == UInt8(ascii: "n") {
            guard case .null = try scanner.readValue() else { throw scanner.error("invalid value") }
            return nil
        }
        var metadata: [String: String] = [:]
        try scanner.readObject { scanner, key in
            guard try scanner.peek() == UInt8(ascii: "\"") else {
                throw scanner.error("metadata value for \"\(key)\" is not a string")
            }
            guard metadata.updateValue(try scanner.readString(), forKey: key) == nil else {
                throw scanner.error("duplicate metadata key \"\(key)\"")
            }
        }
        return metadata
    }

    private static func readEntry(_ scanner: inout JSONScanner, name: String) throws -> Entry {
        var dtype: DType?
        var shape: (dimensions: [Int], huge: Bool)?
        var offsets: (UInt64, UInt64)?
        var unknownKeys = Set<UTF8Key>()
        guard try scanner.peek() == UInt8(ascii: "{") else {
            throw scanner.error("tensor '\(name)' is not an object")
        }
        var more = try scanner.beginObject()
        while more {
            let key = try scanner.readKey()
            switch key {
            case "dtype":
                guard dtype == nil else { throw scanner.error("duplicate field \"dtype\" in tensor '\(name)'") }
                let code = try scanner.peek() == UInt8(ascii: "\"") ? try scanner.readString() : ""
                guard let value = DType(rawValue: code) else {
                    throw scanner.error("tensor '\(name)' has unknown dtype \"\(code)\"")
                }
                dtype = value
            case "shape":
                guard shape == nil else { throw scanner.error("duplicate field \"shape\" in tensor '\(name)'") }
                shape = try readDimensions(&scanner)
            case "data_offsets":
                guard offsets == nil else { throw scanner.error("duplicate field \"data_offsets\" in tensor '\(name)'") }
                offsets = try readOffsets(&scanner, name: name)
            default:
                guard unknownKeys.insert(UTF8Key(key)).inserted else {
                    throw scanner.error("duplicate field \"\(key)\" in tensor '\(name)'")
                }
                try scanner.skipValue(depth: 2)
            }
            more = try scanner.continueObject()
        }
        guard let dtype else { throw scanner.error("tensor '\(name)' has no \"dtype\"") }
        guard let shape else { throw scanner.error("tensor '\(name)' has no \"shape\"") }
        guard let offsets else { throw scanner.error("tensor '\(name)' has no \"data_offsets\"") }
        return Entry(name: name, dtype: dtype, shape: shape.dimensions, hasHugeDimension: shape.huge,
                     begin: offsets.0, end: offsets.1)
    }

    /// Exactly two integers, read without building an array.
    private static func readOffsets(_ scanner: inout JSONScanner, name: String) throws -> (UInt64, UInt64) {
        try scanner.expect(UInt8(ascii: "["))
        var values: (UInt64, UInt64) = (0, 0)
        var count = 0
        if try !scanner.consume(UInt8(ascii: "]")) {
            repeat {
                let value = try scanner.readUInt64()
                if count == 0 { values.0 = value } else if count == 1 { values.1 = value }
                count += 1
            } while try scanner.consume(UInt8(ascii: ","))
            try scanner.expect(UInt8(ascii: "]"))
        }
        guard count == 2 else {
            throw scanner.error("tensor '\(name)' data_offsets has \(count) numbers, expected 2")
        }
        return values
    }

    private static func readDimensions(_ scanner: inout JSONScanner) throws -> ([Int], Bool) {
        var values: [Int] = []
        var huge = false
        try scanner.expect(UInt8(ascii: "["))
        if try scanner.consume(UInt8(ascii: "]")) { return (values, huge) }
        repeat {
            let value = try scanner.readUInt64()
            if let dimension = Int(exactly: value) { values.append(dimension) } else {
                values.append(-1)
                huge = true
            }
        } while try scanner.consume(UInt8(ascii: ","))
        try scanner.expect(UInt8(ascii: "]"))
        return (values, huge)
    }

    /// The reference's offset rules, on tensors sorted by (begin, end): they tile the data section from
    /// 0 with no gap or overlap, and each spans exactly its shape's bytes.
    private static func validate(_ entries: [Entry]) throws -> [TensorInfo] {
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(entries.count)
        var expectedBegin: UInt64 = 0
        for entry in entries {
            guard entry.begin == expectedBegin, entry.end >= entry.begin else {
                let reason = entry.end < entry.begin
                    ? "tensor '\(entry.name)' ends at \(entry.end), before it begins at \(entry.begin)"
                    : "tensor '\(entry.name)' begins at data offset \(entry.begin), expected \(expectedBegin)"
                throw WeightsError(.invalidOffset, reason, tensor: entry.name)
            }
            expectedBegin = entry.end
            // A dimension above Int.max fits no Swift shape; only zero-size tensors can have one.
            guard !entry.hasHugeDimension, let begin = Int(exactly: entry.begin), let end = Int(exactly: entry.end) else {
                throw WeightsError(.validationOverflow, "tensor '\(entry.name)' has a dimension or offset beyond Int.max",
                                   tensor: entry.name)
            }
            let size = try entry.dtype.byteCount(forShape: entry.shape.lazy.map { UInt64($0) }, tensor: entry.name)
            guard end - begin == size else {
                throw WeightsError(.tensorInvalidInfo,
                    "tensor '\(entry.name)' spans \(end - begin) bytes, but \(entry.dtype) \(entry.shape) needs \(size)",
                    tensor: entry.name)
            }
            tensors.append(TensorInfo(name: entry.name, dtype: entry.dtype, shape: entry.shape, dataOffsets: begin..<end))
        }
        return tensors
    }
}

// MARK: - Encoding

extension SafetensorsHeader {
    /// The canonical header bytes, prefix included: the 8-byte little-endian length, then
    /// compact JSON (metadata first, keys sorted by UTF-8 bytes; then tensors in data order),
    /// then spaces up to a multiple of 8.
    ///
    /// - Throws: `headerTooLarge` when the JSON is over ``maximumLength``.
    public func encoded() throws -> [UInt8] {
        var json: [UInt8] = [UInt8(ascii: "{")]
        json.reserveCapacity(64 + tensors.count * 96)
        var first = true
        func separator() {
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
        }
        if let metadata {
            separator()
            CanonicalJSON.appendString(Self.metadataKey, to: &json)
            json.append(contentsOf: ":{".utf8)
            for (index, key) in metadata.keys.sorted(by: utf8Precedes).enumerated() {
                if index > 0 { json.append(UInt8(ascii: ",")) }
                CanonicalJSON.appendString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                CanonicalJSON.appendString(metadata[key]!, to: &json)
            }
            json.append(UInt8(ascii: "}"))
        }
        for tensor in tensors {
            separator()
            CanonicalJSON.appendString(tensor.name, to: &json)
            json.append(contentsOf: ":{\"dtype\":\"".utf8)
            json.append(contentsOf: tensor.dtype.rawValue.utf8)
            json.append(contentsOf: "\",\"shape\":[".utf8)
            json.append(contentsOf: tensor.shape.map(String.init).joined(separator: ",").utf8)
            json.append(contentsOf: "],\"data_offsets\":[".utf8)
            json.append(contentsOf: "\(tensor.dataOffsets.lowerBound),\(tensor.dataOffsets.upperBound)]}".utf8)
        }
        json.append(UInt8(ascii: "}"))
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        guard json.count <= Self.maximumLength else {
            throw WeightsError(.headerTooLarge, "header of \(json.count) bytes is over the \(Self.maximumLength)-byte limit")
        }
        var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        bytes.append(contentsOf: json)
        return bytes
    }
}

/// JSON string escaping exactly as the reference writer (serde_json) does it.
public enum CanonicalJSON {
    private static let hex = Array("0123456789abcdef".utf8)

    /// Appends `string` quoted: `"` and `\` escaped, `\b \f \n \r \t` in short form, other
    /// control characters as `\u00xx`; everything else, non-ASCII included, raw.
    static func appendString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case ..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `string` quoted and escaped as the reference writer does it.
    public static func string(_ string: String) -> String {
        var bytes: [UInt8] = []
        appendString(string, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
