/// A GGUF metadata array, kept as a range of the file's mapping and decoded on access.
///
/// Opening a file checks the array's structure (every string length and nested array lies
/// in the file, nesting is at most ``maximumDepth``) but decodes nothing, so its element type
/// and count are known at once and its elements cost only when asked for. UTF-8 and `BOOL`
/// bytes are checked when elements are decoded.
///
/// ```swift
/// let tokens = file.metadata["tokenizer.ggml.tokens"]!.array!
/// tokens.elementType      // .string
/// tokens.count            // 262144
/// let first = try tokens.prefix(3).map(\.description)   // ["<pad>", "<eos>", "<bos>"]
/// ```
public struct GGUFArray: Sendable, Equatable {
    /// Arrays nested deeper than this (an array of arrays of … ) are refused.
    public static let maximumDepth = 8

    /// The type of every element.
    public let elementType: GGUFValueType
    /// The number of elements.
    public let count: Int
    /// The elements' bytes in the file, after the type and count fields.
    public let byteRange: Range<Int>
    let storage: ByteStorage
    let depth: Int
    let path: String

    init(elementType: GGUFValueType, count: Int, byteRange: Range<Int>, storage: ByteStorage, depth: Int, path: String) {
        self.elementType = elementType
        self.count = count
        self.byteRange = byteRange
        self.storage = storage
        self.depth = depth
        self.path = path
    }

    public static func == (lhs: GGUFArray, rhs: GGUFArray) -> Bool {
        lhs.elementType == rhs.elementType && lhs.count == rhs.count
            && GGUFByteReader.equal(lhs.storage.span, lhs.byteRange, rhs.storage.span, rhs.byteRange)
    }

    /// A reader at the first element; it borrows the storage's bytes.
    private var reader: GGUFByteReader {
        @_lifetime(borrow self)
        get { GGUFByteReader(bytes: storage.span, position: byteRange.lowerBound, path: path) }
    }

    /// Calls `body` with each element in order.
    ///
    /// - Complexity: O(*n*).
    /// - Throws: `invalidHeader` for a string that is not UTF-8, `invalidData` for a `BOOL`
    ///   byte other than 0 or 1, and whatever `body` throws.
    public func forEach(_ body: (GGUFValue) throws -> Void) throws {
        var reader = reader
        for index in 0..<count {
            try body(try reader.value(of: elementType, depth: depth + 1, storage: storage, what: "element \(index) of an array"))
        }
    }

    /// The element at `index`.
    ///
    /// - Complexity: O(1) for fixed-size elements; O(`index`) for strings and arrays, whose
    ///   sizes are found by walking.
    /// - Throws: `invalidArgument` when `index` is out of range, and the decoding errors of
    ///   ``forEach(_:)``.
    public func element(at index: Int) throws -> GGUFValue {
        guard index >= 0, index < count else {
            throw WeightsError(.invalidArgument, "index \(index) is outside an array of \(count)", file: path)
        }
        var reader = reader
        if let size = elementType.fixedSize {
            reader.position += index * size
        } else {
            for _ in 0..<index { try reader.skip(elementType, depth: depth + 1, what: "an array element") }
        }
        return try reader.value(of: elementType, depth: depth + 1, storage: storage, what: "element \(index) of an array")
    }

    /// The first `maxLength` elements (all of them when there are fewer).
    ///
    /// - Complexity: O(`maxLength`).
    public func prefix(_ maxLength: Int) throws -> [GGUFValue] {
        var reader = reader
        var values: [GGUFValue] = []
        for index in 0..<min(max(maxLength, 0), count) {
            values.append(try reader.value(of: elementType, depth: depth + 1, storage: storage, what: "element \(index) of an array"))
        }
        return values
    }

    /// Every element.
    ///
    /// - Complexity: O(*n*).
    public func values() throws -> [GGUFValue] { try prefix(count) }

    /// The elements of a `STRING` array.
    ///
    /// - Complexity: O(*n*) in the bytes of the strings.
    /// - Throws: `dtypeMismatch` for other element types; `invalidHeader` for a string that is
    ///   not UTF-8.
    public func strings() throws -> [String] {
        guard elementType == .string else { throw mismatch("STRING") }
        var reader = reader
        var strings: [String] = []
        strings.reserveCapacity(count)
        for index in 0..<count { strings.append(try reader.string("string \(index) of an array")) }
        return strings
    }

    /// The elements of an array of any integer type, as `Int`.
    ///
    /// - Throws: `dtypeMismatch` for other element types, or a `UINT64` above `Int.max`.
    public func integers() throws -> [Int] {
        let reader = reader, start = byteRange.lowerBound
        // The fixed-width types read straight from their bytes, as `floats()` does.
        switch elementType {
        case .int32: return (0..<count).map { Int(reader.integer(at: start + 4 * $0, as: Int32.self)) }
        case .uint32: return (0..<count).map { Int(reader.integer(at: start + 4 * $0, as: UInt32.self)) }
        case .int8: return (0..<count).map { Int(reader.integer(at: start + $0, as: Int8.self)) }
        case .uint8: return (0..<count).map { Int(reader.integer(at: start + $0, as: UInt8.self)) }
        default: break
        }
        var result: [Int] = []
        result.reserveCapacity(count)
        try forEach { value in
            guard let number = value.int else { throw mismatch("an integer type") }
            result.append(number)
        }
        return result
    }

    /// The elements of a `FLOAT32` array, or of a `FLOAT64` array rounded to `Float`.
    ///
    /// - Complexity: O(*n*).
    /// - Throws: `dtypeMismatch` for other element types.
    public func floats() throws -> [Float] {
        let reader = reader, start = byteRange.lowerBound
        switch elementType {
        case .float32:
            return (0..<count).map { Float(bitPattern: reader.integer(at: start + 4 * $0, as: UInt32.self)) }
        case .float64:
            return (0..<count).map { Float(Double(bitPattern: reader.integer(at: start + 8 * $0, as: UInt64.self))) }
        default:
            throw mismatch("FLOAT32 or FLOAT64")
        }
    }

    private func mismatch(_ wanted: String) -> WeightsError {
        WeightsError(.dtypeMismatch, "the array holds \(elementType), not \(wanted)", file: path, offset: byteRange.lowerBound)
    }
}
