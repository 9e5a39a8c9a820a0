extension GGUFValue {
    /// The bytes this value takes in a file after its type field: a scalar's little-endian
    /// bytes, a string's u64 length and UTF-8, an array's item type, count and items.
    ///
    /// - Complexity: O(1); a string's UTF-8 count is O(*n*) for non-native strings.
    var encodedSize: Int {
        switch self {
        case .string(let text): 8 + text.utf8.count
        case .array(let array): 12 + array.byteRange.count
        default: type.fixedSize!
        }
    }

    /// Appends the value's bytes (without its type field) to `bytes`.
    ///
    /// - Complexity: O(*n*) in ``encodedSize``.
    func encode(into bytes: inout [UInt8]) {
        switch self {
        case .uint8(let v): bytes.append(v)
        case .int8(let v): bytes.append(UInt8(bitPattern: v))
        case .uint16(let v): GGUFValue.append(v, to: &bytes)
        case .int16(let v): GGUFValue.append(v, to: &bytes)
        case .uint32(let v): GGUFValue.append(v, to: &bytes)
        case .int32(let v): GGUFValue.append(v, to: &bytes)
        case .float32(let v): GGUFValue.append(v.bitPattern, to: &bytes)
        case .bool(let v): bytes.append(v ? 1 : 0)
        case .string(let text): GGUFValue.appendString(text, to: &bytes)
        case .uint64(let v): GGUFValue.append(v, to: &bytes)
        case .int64(let v): GGUFValue.append(v, to: &bytes)
        case .float64(let v): GGUFValue.append(v.bitPattern, to: &bytes)
        case .array(let array):
            GGUFValue.append(array.elementType.rawValue, to: &bytes)
            GGUFValue.append(UInt64(array.count), to: &bytes)
            // Sound: the buffer is the array's items, valid during the closure, which copies them.
            unsafe array.withUnsafeElementBytes { unsafe bytes.append(contentsOf: $0) }
        }
    }

    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        // Sound: the buffer is the local copy's bytes, valid during the closure, which copies them.
        unsafe withUnsafeBytes(of: value.littleEndian) { unsafe bytes.append(contentsOf: $0) }
    }

    static func appendString(_ text: String, to bytes: inout [UInt8]) {
        let utf8 = text.utf8
        append(UInt64(utf8.count), to: &bytes)
        bytes.append(contentsOf: utf8)
    }
}

extension GGUFArray {
    /// An array of `values`, every one of type `elementType`, held in its own storage, for
    /// writing with ``GGUFWriter``.
    ///
    /// Items may be arrays themselves (`elementType` `.array`), of any item types; the whole
    /// must nest at most ``maximumDepth`` levels, as readers require. An empty array is
    /// allowed (llama.cpp reads one; gguf-py's writer refuses to make one).
    ///
    /// ```swift
    /// let sizes = try GGUFArray(elementType: .int32, values: [.int32(1), .int32(2)])
    /// let nested = try GGUFArray(elementType: .array, values: [.array(sizes), .array(sizes)])
    /// ```
    ///
    /// - Complexity: O(*n*) in the bytes of the values.
    /// - Throws: `invalidArgument` when a value is not of `elementType`, or when the arrays
    ///   nest too deep.
    public init(elementType: GGUFValueType, values: [GGUFValue]) throws(WeightsError) {
        var bytes: [UInt8] = []
        GGUFValue.append(elementType.rawValue, to: &bytes)
        GGUFValue.append(UInt64(values.count), to: &bytes)
        for (index, value) in values.enumerated() {
            guard value.type == elementType else {
                throw WeightsError(.invalidArgument, "array item \(index) is \(value.type), not \(elementType) like the array")
            }
            value.encode(into: &bytes)
        }
        try self.init(encoded: bytes)
    }

    /// An array of strings (`STRING` items), as tokenizer vocabularies are stored.
    ///
    /// - Complexity: O(*n*) in the bytes of the strings.
    public init(strings: [String]) {
        var bytes: [UInt8] = []
        GGUFValue.append(GGUFValueType.string.rawValue, to: &bytes)
        GGUFValue.append(UInt64(strings.count), to: &bytes)
        for text in strings { GGUFValue.appendString(text, to: &bytes) }
        self.init(flat: bytes, elementType: .string, count: strings.count)
    }

    /// An array of `FLOAT32` items.
    ///
    /// - Complexity: O(*n*).
    public init(floats: [Float]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12 + 4 * floats.count)
        GGUFValue.append(GGUFValueType.float32.rawValue, to: &bytes)
        GGUFValue.append(UInt64(floats.count), to: &bytes)
        for value in floats { GGUFValue.append(value.bitPattern, to: &bytes) }
        self.init(flat: bytes, elementType: .float32, count: floats.count)
    }

    /// An array of items that do not nest, from `bytes` made here: item type, count, items.
    private init(flat bytes: [UInt8], elementType: GGUFValueType, count: Int) {
        self.init(elementType: elementType, count: count, byteRange: 12..<bytes.count, storage: ByteStorage.copy(of: bytes),
                  depth: 0, path: "<array>")
    }

    /// An array decoded from `bytes`: item type, count and items, as in a file.
    private init(encoded bytes: [UInt8]) throws(WeightsError) {
        let storage = ByteStorage.copy(of: bytes)
        var reader = GGUFByteReader(bytes: storage.span, path: "<array>")
        let value: GGUFValue
        do {
            value = try reader.value(of: .array, depth: 0, storage: storage, what: "the array")
        } catch {
            throw WeightsError(.invalidArgument, error.reason)
        }
        guard case .array(let array) = value else {
            throw WeightsError(.invalidArgument, "the bytes made for an array decoded as \(value.type)")
        }
        self = array
    }
}
