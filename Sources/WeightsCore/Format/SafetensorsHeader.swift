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
        // Sound: `json` is the caller's, valid for the call.
        unsafe try decodeIndexed(json, fileOffset: fileOffset).header
    }

    /// Decodes and validates, and also returns how to find each name in `tensors`: the reader
    /// keeps it, and building it is how duplicate names are found.
    static func decodeIndexed(_ json: UnsafeRawBufferPointer, fileOffset: Int) throws
        -> (header: SafetensorsHeader, lookup: NameLookup)
    {
        // Sound: `json` is lent for the call; the name slices point into it and are used (by
        // NameLookup.build) before it returns.
        unsafe try checkUTF8(json, fileOffset: fileOffset)
        var (metadata, tensors, spans, nameBytes) = unsafe try parseEntries(json, fileOffset: fileOffset)
        // Writers list tensors in data order, so the sort is nearly always a no-op: check first.
        if !zip(spans, spans.dropFirst()).allSatisfy({ $0 <= $1 }) {
            let order = spans.indices.sorted { spans[$0] < spans[$1] }
            tensors = order.map { tensors[$0] }
            spans = order.map { spans[$0] }
            unsafe nameBytes = unsafe nameBytes.map { bytes in unsafe order.map { unsafe bytes[$0] } }
        }
        // No view of `tensors` may outlive this statement: `validate` mutates it, and a live view
        // would make that copy the whole array.
        let (lookup, duplicate) = unsafe nameBytes.map { unsafe NameLookup.build(tensors.lazy.map(\.name), bytes: unsafe $0) }
            ?? NameLookup.build(tensors.lazy.map(\.name))
        if let duplicate {
            let name = tensors[duplicate].name
            throw WeightsError(.duplicateTensorName, "tensor '\(name)' appears twice in the header", tensor: name)
        }
        try validate(&tensors, spans)
        return (SafetensorsHeader(metadata: metadata, tensors: tensors), lookup)
    }

    private static func checkUTF8(_ json: UnsafeRawBufferPointer, fileOffset: Int) throws {
        // Sound: iterates the caller's bytes, valid for the call.
        if unsafe isASCII(json) { return }
        var iterator = unsafe json.makeIterator()
        var decoder = UTF8()
        var position = 0
        while true {
            switch unsafe decoder.decode(&iterator) {
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
        // Sound: 8-byte loads while `index + 8 <= bytes.count`, then byte reads below
        // `bytes.count`.
        guard let base = bytes.baseAddress else { return true }
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
            unsafe high |= base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            unsafe high |= UInt64(bytes[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    /// A tensor's offsets as parsed, kept 64-bit until checked, beside its ``TensorInfo`` (whose
    /// `dataOffsets` are filled in by validation). Ordered by (begin, end), the data order.
    struct RawSpan: Comparable {
        var begin: UInt64
        var end: UInt64
        /// A dimension above `Int.max`, kept in the shape as -1, to be refused in rule order.
        var hasHugeDimension: Bool

        static func < (a: RawSpan, b: RawSpan) -> Bool { (a.begin, a.end) < (b.begin, b.end) }
        static func == (a: RawSpan, b: RawSpan) -> Bool { (a.begin, a.end) == (b.begin, b.end) }
    }

    /// Reads every member of the header object. Duplicate names are looked for once the whole
    /// header has parsed, so that JSON errors anywhere come first, as in the reference. Also
    /// returns each tensor name's bytes in `json`, unless a name is spelled with escapes.
    private static func parseEntries(_ json: UnsafeRawBufferPointer, fileOffset: Int) throws
        -> (metadata: [String: String]?, tensors: [TensorInfo], spans: [RawSpan], nameBytes: [UnsafeRawBufferPointer]?)
    {
        // Sound: the scanner reads `json`, lent for the call; the raw names are slices of it, used
        // before the caller returns.
        var scanner = unsafe JSONScanner(json, base: fileOffset)
        var metadata: [String: String]?
        var sawMetadata = false
        var tensors: [TensorInfo] = []
        var spans: [RawSpan] = []
        tensors.reserveCapacity(json.count / 80)
        spans.reserveCapacity(json.count / 80)
        var shapes = ShapeCache()
        var nameBytes: [UnsafeRawBufferPointer]? = unsafe []
        unsafe nameBytes?.reserveCapacity(json.count / 80)
        var more = unsafe try scanner.beginObject()
        while more {
            let (key, raw) = unsafe try readName(&scanner)
            if unsafe raw?.holds("__metadata__") ?? (key == metadataKey) {
                guard !sawMetadata else { throw unsafe scanner.error("duplicate key \"\(metadataKey)\"") }
                sawMetadata = true
                metadata = unsafe try readMetadata(&scanner)
            } else {
                if let raw = unsafe raw { unsafe nameBytes?.append(raw) } else { unsafe nameBytes = nil }
                let (tensor, span) = unsafe try readEntry(&scanner, name: key, shapes: &shapes)
                tensors.append(tensor)
                spans.append(span)
            }
            more = unsafe try scanner.continueObject()
        }
        unsafe scanner.skipWhitespace()
        guard unsafe scanner.isAtEnd else { throw unsafe scanner.error("trailing characters after the header object") }
        return unsafe (metadata, tensors, spans, nameBytes)
    }

    /// Reads a member's key and the colon after it. Also returns the key's bytes in the header
    /// when it holds no escape.
    private static func readName(_ scanner: inout JSONScanner) throws -> (String, UnsafeRawBufferPointer?) {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        guard unsafe try scanner.peek() == UInt8(ascii: "\"") else { throw unsafe scanner.error("expected a string key") }
        let raw = unsafe try scanner.readRawString()
        let name = unsafe try raw.map { unsafe String(decoding: $0, as: UTF8.self) } ?? scanner.readString()
        unsafe try scanner.expect(UInt8(ascii: ":"))
        return unsafe (name, raw)
    }

    private static func readMetadata(_ scanner: inout JSONScanner) throws -> [String: String]? {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        if unsafe try scanner.peek() == UInt8(ascii: "n") {
            guard case .null = unsafe try scanner.readValue() else { throw unsafe scanner.error("invalid value") }
            return nil
        }
        var metadata: [String: String] = [:]
        unsafe try scanner.readObject { scanner, key in
            guard unsafe try scanner.peek() == UInt8(ascii: "\"") else {
                throw unsafe scanner.error("metadata value for \"\(key)\" is not a string")
            }
            guard unsafe metadata.updateValue(try scanner.readString(), forKey: key) == nil else {
                throw unsafe scanner.error("duplicate metadata key \"\(key)\"")
            }
        }
        return metadata
    }

    private static func readEntry(_ scanner: inout JSONScanner, name: String, shapes: inout ShapeCache) throws
        -> (TensorInfo, RawSpan)
    {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        var dtype: DType?
        var shape: (dimensions: [Int], huge: Bool)?
        var offsets: (UInt64, UInt64)?
        var unknownKeys = Set<UTF8Key>()
        guard unsafe try scanner.peek() == UInt8(ascii: "{") else {
            throw unsafe scanner.error("tensor '\(name)' is not an object")
        }
        var more = unsafe try scanner.beginObject()
        while more {
            switch unsafe try readField(&scanner) {
            case .dtype:
                guard dtype == nil else { throw unsafe scanner.error("duplicate field \"dtype\" in tensor '\(name)'") }
                dtype = unsafe try readDType(&scanner, name: name)
            case .shape:
                guard shape == nil else { throw unsafe scanner.error("duplicate field \"shape\" in tensor '\(name)'") }
                shape = unsafe try readDimensions(&scanner, shapes: &shapes)
            case .dataOffsets:
                guard offsets == nil else { throw unsafe scanner.error("duplicate field \"data_offsets\" in tensor '\(name)'") }
                offsets = unsafe try readOffsets(&scanner, name: name)
            case .other(let key):
                guard unknownKeys.insert(UTF8Key(key)).inserted else {
                    throw unsafe scanner.error("duplicate field \"\(key)\" in tensor '\(name)'")
                }
                unsafe try scanner.skipValue(depth: 2)
            }
            more = unsafe try scanner.continueObject()
        }
        guard let dtype else { throw unsafe scanner.error("tensor '\(name)' has no \"dtype\"") }
        guard let shape else { throw unsafe scanner.error("tensor '\(name)' has no \"shape\"") }
        guard let offsets else { throw unsafe scanner.error("tensor '\(name)' has no \"data_offsets\"") }
        return (TensorInfo(name: name, dtype: dtype, shape: shape.dimensions, dataOffsets: 0..<0),
                RawSpan(begin: offsets.0, end: offsets.1, hasHugeDimension: shape.huge))
    }

    /// A field of a tensor entry.
    private enum Field {
        case dtype, shape, dataOffsets
        case other(String)
    }

    /// Reads a tensor entry's key and the colon after it, comparing the known keys as bytes.
    private static func readField(_ scanner: inout JSONScanner) throws -> Field {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type). The raw
        // key is a slice of the header, compared at once.
        guard unsafe try scanner.peek() == UInt8(ascii: "\"") else { throw unsafe scanner.error("expected a string key") }
        let field: Field
        if let raw = unsafe try scanner.readRawString() {
            if unsafe raw.holds("dtype") {
                field = .dtype
            } else if unsafe raw.holds("shape") {
                field = .shape
            } else if unsafe raw.holds("data_offsets") {
                field = .dataOffsets
            } else {
                field = unsafe .other(String(decoding: raw, as: UTF8.self))
            }
        } else {
            // An escaped key can still spell a known one ("d\u0074ype").
            switch unsafe try scanner.readString() {
            case "dtype": field = .dtype
            case "shape": field = .shape
            case "data_offsets": field = .dataOffsets
            case let key: field = .other(key)
            }
        }
        unsafe try scanner.expect(UInt8(ascii: ":"))
        return field
    }

    private static func readDType(_ scanner: inout JSONScanner, name: String) throws -> DType {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type). The raw
        // code is a slice of the header, compared at once.
        var code = ""
        if unsafe try scanner.peek() == UInt8(ascii: "\"") {
            if let raw = unsafe try scanner.readRawString() {
                if let dtype = unsafe DType(code: raw) { return dtype }
                code = unsafe String(decoding: raw, as: UTF8.self)
            } else {
                code = unsafe try scanner.readString()
                if let dtype = DType(rawValue: code) { return dtype }
            }
        }
        throw unsafe scanner.error("tensor '\(name)' has unknown dtype \"\(code)\"")
    }

    /// Exactly two integers, read without building an array.
    private static func readOffsets(_ scanner: inout JSONScanner, name: String) throws -> (UInt64, UInt64) {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        unsafe try scanner.expect(UInt8(ascii: "["))
        var values: (UInt64, UInt64) = (0, 0)
        var count = 0
        if unsafe try !scanner.consume(UInt8(ascii: "]")) {
            repeat {
                let value = unsafe try scanner.readUInt64()
                if count == 0 { values.0 = value } else if count == 1 { values.1 = value }
                count += 1
            } while unsafe try scanner.consume(UInt8(ascii: ","))
            unsafe try scanner.expect(UInt8(ascii: "]"))
        }
        guard count == 2 else {
            throw unsafe scanner.error("tensor '\(name)' data_offsets has \(count) numbers, expected 2")
        }
        return values
    }

    private static func readDimensions(_ scanner: inout JSONScanner, shapes: inout ShapeCache) throws -> ([Int], Bool) {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        var values = ShapeCache.Dimensions()
        var huge = false
        unsafe try scanner.expect(UInt8(ascii: "["))
        if unsafe try scanner.consume(UInt8(ascii: "]")) { return ([], huge) }
        repeat {
            let value = unsafe try scanner.readUInt64()
            if let dimension = Int(exactly: value) { values.append(dimension) } else {
                values.append(-1)
                huge = true
            }
        } while unsafe try scanner.consume(UInt8(ascii: ","))
        unsafe try scanner.expect(UInt8(ascii: "]"))
        return (shapes.array(for: values), huge)
    }

    /// Shape arrays already made while reading this header, so that tensors of the same shape
    /// (the layers of a model, mostly) share one array instead of allocating one each.
    struct ShapeCache {
        /// Dimensions as read: up to four inline, more in an array.
        struct Dimensions {
            var count = 0
            var inline: (Int, Int, Int, Int) = (0, 0, 0, 0)
            var more: [Int] = []

            mutating func append(_ value: Int) {
                switch count {
                case 0: inline.0 = value
                case 1: inline.1 = value
                case 2: inline.2 = value
                case 3: inline.3 = value
                default:
                    if more.isEmpty { more = [inline.0, inline.1, inline.2, inline.3] }
                    more.append(value)
                }
                count += 1
            }

            func matches(_ shape: [Int]) -> Bool {
                // Sound: reads `count` ≤ 4 Ints of the 4-Int inline tuple, inside the closure.
                guard shape.count == count else { return false }
                if count > 4 { return shape == more }
                return unsafe withUnsafeBytes(of: inline) { unsafe shape.elementsEqual($0.assumingMemoryBound(to: Int.self).prefix(count)) }
            }

            func makeArray() -> [Int] {
                // Sound: copies `count` ≤ 4 Ints of the 4-Int inline tuple, inside the closure.
                unsafe count > 4 ? more : withUnsafeBytes(of: inline) { unsafe Array($0.assumingMemoryBound(to: Int.self).prefix(count)) }
            }

            /// A cheap mix of the dimensions, to pick a cache slot.
            var slotKey: Int {
                count > 4 ? more.hashValue : count &+ inline.0 &* 31 &+ inline.1 &* 961 &+ inline.2 &* 29_791 &+ inline.3
            }
        }

        private var slots = [[Int]](repeating: [], count: 16)

        /// An array with `dimensions`: a cached one when a recent shape was the same.
        mutating func array(for dimensions: Dimensions) -> [Int] {
            let slot = Int(truncatingIfNeeded: UInt(bitPattern: dimensions.slotKey) % 16)
            if dimensions.matches(slots[slot]) { return slots[slot] }
            let shape = dimensions.makeArray()
            slots[slot] = shape
            return shape
        }
    }

    /// The reference's offset rules, on tensors sorted by (begin, end): they tile the data section from
    /// 0 with no gap or overlap, and each spans exactly its shape's bytes.
    private static func validate(_ tensors: inout [TensorInfo], _ spans: [RawSpan]) throws {
        var expectedBegin: UInt64 = 0
        for (position, span) in spans.enumerated() {
            let name = tensors[position].name
            guard span.begin == expectedBegin, span.end >= span.begin else {
                let reason = span.end < span.begin
                    ? "tensor '\(name)' ends at \(span.end), before it begins at \(span.begin)"
                    : "tensor '\(name)' begins at data offset \(span.begin), expected \(expectedBegin)"
                throw WeightsError(.invalidOffset, reason, tensor: name)
            }
            expectedBegin = span.end
            // A dimension above Int.max fits no Swift shape; only zero-size tensors can have one.
            guard !span.hasHugeDimension, let begin = Int(exactly: span.begin), let end = Int(exactly: span.end) else {
                throw WeightsError(.validationOverflow, "tensor '\(name)' has a dimension or offset beyond Int.max",
                                   tensor: name)
            }
            let (dtype, shape) = (tensors[position].dtype, tensors[position].shape)
            let size = try dtype.byteCount(forShape: shape.lazy.map { UInt64($0) }, tensor: name)
            guard end - begin == size else {
                throw WeightsError(.tensorInvalidInfo,
                    "tensor '\(name)' spans \(end - begin) bytes, but \(dtype) \(shape) needs \(size)",
                    tensor: name)
            }
            tensors[position].dataOffsets = begin..<end
        }
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
        // Sound: the only pointer is the 8-byte length's, copied inside its closure.
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
        var bytes = unsafe withUnsafeBytes(of: UInt64(json.count).littleEndian) { unsafe Array($0) }
        bytes.append(contentsOf: json)
        return bytes
    }
}
