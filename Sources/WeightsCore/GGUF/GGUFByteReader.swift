/// A bounds-checked little-endian cursor over a GGUF file's bytes: every read checks that
/// the bytes are there and throws `invalidHeader` naming the byte offset when they are not,
/// so no value read from the file can make the reader trap.
///
/// The bytes are a `RawSpan`, so the reader cannot outlive the storage that lends them (the
/// compiler checks it) and every access is bounds-checked by the span as well: a mistake here
/// is a trap, never a read outside the file. The only `unsafe` left are the integer loads
/// (every bit pattern is a valid integer, so the span's load is sound for them) and the
/// UTF-8 check of a string's bytes.
struct GGUFByteReader: ~Escapable {
    let bytes: RawSpan
    var position: Int
    let path: String

    @_lifetime(copy bytes)
    init(bytes: RawSpan, position: Int = 0, path: String) {
        self.bytes = bytes
        self.position = position
        self.path = path
    }

    /// Bytes left after the cursor.
    var remaining: Int { bytes.byteCount - position }

    func truncated(_ what: String, needing count: Int) -> WeightsError {
        WeightsError(.invalidHeader,
                     "file ends inside \(what): \(count) bytes needed, \(max(remaining, 0)) left",
                     file: path, offset: position)
    }

    /// The little-endian integer at `offset`, which the caller has checked lies in the bytes.
    @inline(__always)
    func integer<T: FixedWidthInteger & BitwiseCopyable>(at offset: Int, as type: T.Type) -> T {
        // Sound: any bit pattern is a valid integer, and the span checks the range itself.
        unsafe T(littleEndian: bytes.unsafeLoadUnaligned(fromByteOffset: offset, as: T.self))
    }

    mutating func load<T: FixedWidthInteger & BitwiseCopyable>(_ type: T.Type, _ what: @autoclosure () -> String) throws(WeightsError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw truncated(what(), needing: size) }
        let value = integer(at: position, as: T.self)
        position += size
        return value
    }

    /// A u64 that must fit in `Int` (counts, lengths, dimensions, offsets).
    mutating func count(_ what: @autoclosure () -> String) throws(WeightsError) -> Int {
        let start = position
        let raw = try load(UInt64.self, what())
        guard let value = Int(exactly: raw) else {
            throw WeightsError(.validationOverflow, "\(what()) \(raw) does not fit in 63 bits",
                               file: path, offset: start)
        }
        return value
    }

    /// The byte range of a GGUF string (u64 length, then the bytes), checked to lie in the file.
    mutating func stringRange(_ what: @autoclosure () -> String) throws(WeightsError) -> Range<Int> {
        let start = position
        let length = try count("the length of \(what())")
        guard length <= remaining else {
            throw WeightsError(.invalidHeader,
                "\(what()) declares \(length) bytes, but only \(remaining) remain in the file",
                file: path, offset: start)
        }
        defer { position += length }
        return position..<position + length
    }

    /// A GGUF string decoded as UTF-8.
    mutating func string(_ what: @autoclosure () -> String) throws(WeightsError) -> String {
        let start = position
        let range = try stringRange(what())
        guard let text = GGUFByteReader.decode(bytes, range) else {
            throw WeightsError(.invalidHeader, "\(what()) is not valid UTF-8",
                               file: path, offset: start)
        }
        return text
    }

    /// The bytes of `range` (checked by the span) as a string, if they are valid UTF-8.
    static func decode(_ bytes: RawSpan, _ range: Range<Int>) -> String? {
        // Sound: the buffer is used only inside the closure, while the span keeps it alive.
        unsafe bytes.extracting(range).withUnsafeBytes { unsafe String(validating: $0, as: UTF8.self) }
    }

    /// Whether the bytes begin with `prefix`.
    func starts(with prefix: [UInt8]) -> Bool {
        bytes.byteCount >= prefix.count
            && prefix.indices.allSatisfy { integer(at: $0, as: UInt8.self) == prefix[$0] }
    }

    /// Whether `range` of `bytes` and `otherRange` of `other` hold the same bytes.
    static func equal(_ bytes: RawSpan, _ range: Range<Int>, _ other: RawSpan, _ otherRange: Range<Int>) -> Bool {
        // Sound: both buffers are used only inside the closures, while the spans keep them alive.
        unsafe bytes.extracting(range).withUnsafeBytes { left in
            unsafe other.extracting(otherRange).withUnsafeBytes { right in unsafe left.elementsEqual(right) }
        }
    }
}

extension GGUFByteReader {
    /// Reads a value of `type`. Arrays are checked (every nested length inside the file,
    /// depth at most ``GGUFArray/maximumDepth``) and skipped, not decoded.
    ///
    /// - Parameter depth: 0 for a key's value, one more for each enclosing array.
    mutating func value(of type: GGUFValueType, depth: Int, storage: ByteStorage, what: @autoclosure () -> String) throws(WeightsError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, what()))
        case .int8: return .int8(try load(Int8.self, what()))
        case .uint16: return .uint16(try load(UInt16.self, what()))
        case .int16: return .int16(try load(Int16.self, what()))
        case .uint32: return .uint32(try load(UInt32.self, what()))
        case .int32: return .int32(try load(Int32.self, what()))
        case .uint64: return .uint64(try load(UInt64.self, what()))
        case .int64: return .int64(try load(Int64.self, what()))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, what())))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, what())))
        case .bool:
            let start = position
            let byte = try load(UInt8.self, what())
            guard byte <= 1 else {
                throw WeightsError(.invalidData, "\(what()) is a BOOL of byte \(byte), not 0 or 1", file: path, offset: start)
            }
            return .bool(byte == 1)
        case .string:
            return .string(try string(what()))
        case .array:
            let header = try arrayHeader(depth: depth, what: what())
            let start = position
            try skipItems(header.type, count: header.count, depth: depth + 1, what: what())
            return .array(GGUFArray(elementType: header.type, count: header.count, byteRange: start..<position,
                                    storage: storage, depth: depth, path: path))
        }
    }

    /// Reads a value type field.
    mutating func valueType(_ what: @autoclosure () -> String) throws(WeightsError) -> GGUFValueType {
        let start = position
        let raw = try load(UInt32.self, "the type of \(what())")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw WeightsError(.invalidHeader, "\(what()) has value type \(raw); known types are 0 to 12",
                               file: path, offset: start)
        }
        return type
    }

    /// Reads an array's item type and count, checking the depth and that `count` items of the
    /// smallest size could fit in the bytes left.
    private mutating func arrayHeader(depth: Int, what: @autoclosure () -> String) throws(WeightsError) -> (type: GGUFValueType, count: Int) {
        let start = position
        guard depth < GGUFArray.maximumDepth else {
            throw WeightsError(.invalidHeader,
                "\(what()) nests arrays deeper than \(GGUFArray.maximumDepth) levels",
                file: path, offset: start)
        }
        let type = try valueType("the items of \(what())")
        let countAt = position
        let count = try self.count("the item count of \(what())")
        let (needed, overflow) = count.multipliedReportingOverflow(by: type.minimumSize)
        guard !overflow, needed <= remaining else {
            throw WeightsError(.invalidHeader,
                "\(what()) declares \(count) \(type) items, more than the \(remaining) bytes left can hold",
                file: path, offset: countAt)
        }
        return (type, count)
    }

    /// Skips one value of `type`, checking its structure.
    mutating func skip(_ type: GGUFValueType, depth: Int, what: @autoclosure () -> String) throws(WeightsError) {
        if let size = type.fixedSize {
            guard remaining >= size else { throw truncated(what(), needing: size) }
            position += size
        } else if type == .string {
            _ = try stringRange(what())
        } else {
            let header = try arrayHeader(depth: depth, what: what())
            try skipItems(header.type, count: header.count, depth: depth + 1, what: what())
        }
    }

    private mutating func skipItems(_ type: GGUFValueType, count: Int, depth: Int, what: @autoclosure () -> String) throws(WeightsError) {
        if let size = type.fixedSize {
            // arrayHeader checked count × size ≤ remaining.
            position += count * size
            return
        }
        if type == .string {
            // The hot case (a tokenizer's vocabulary): a tight walk over the length fields.
            var cursor = position
            let end = bytes.byteCount
            for _ in 0..<count {
                guard end - cursor >= 8 else { position = cursor; throw truncated("a string in \(what())", needing: 8) }
                let length = integer(at: cursor, as: UInt64.self)
                guard length <= UInt64(end - cursor - 8) else {
                    position = cursor
                    throw WeightsError(.invalidHeader,
                        "a string in \(what()) declares \(length) bytes, but only \(end - cursor - 8) remain in the file",
                        file: path, offset: cursor)
                }
                cursor += 8 + Int(length)
            }
            position = cursor
            return
        }
        for _ in 0..<count { try skip(type, depth: depth, what: what()) }
    }
}
