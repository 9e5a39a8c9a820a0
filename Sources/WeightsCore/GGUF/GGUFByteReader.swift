/// A bounds-checked little-endian cursor over a GGUF file's bytes: every read checks that
/// the bytes are there and throws `invalidHeader` naming the byte offset when they are not,
/// so no value read from the file can make the reader trap.
@unsafe  // Unsafe: reads through a pointer it does not own; valid only inside the scope that lends the bytes.
struct GGUFByteReader {
    let bytes: UnsafeRawBufferPointer
    var position: Int
    let path: String

    init(bytes: UnsafeRawBufferPointer, position: Int = 0, path: String) {
        unsafe self.bytes = unsafe bytes
        unsafe self.position = position
        unsafe self.path = path
    }

    /// Bytes left after the cursor.
    var remaining: Int { unsafe bytes.count - position }

    func truncated(_ what: String, needing count: Int) -> WeightsError {
        WeightsError(.invalidHeader,
                     unsafe "file ends inside \(what): \(count) bytes needed, \(max(remaining, 0)) left",
                     file: unsafe path, offset: unsafe position)
    }

    mutating func load<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws(WeightsError) -> T {
        let size = MemoryLayout<T>.size
        guard unsafe remaining >= size else { throw unsafe truncated(what(), needing: size) }
        let value = unsafe T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
        unsafe position += size
        return value
    }

    /// A u64 that must fit in `Int` (counts, lengths, dimensions, offsets).
    mutating func count(_ what: @autoclosure () -> String) throws(WeightsError) -> Int {
        let start = unsafe position
        let raw = unsafe try load(UInt64.self, what())
        guard let value = Int(exactly: raw) else {
            throw WeightsError(.validationOverflow, "\(what()) \(raw) does not fit in 63 bits",
                               file: unsafe path, offset: start)
        }
        return value
    }

    /// The byte range of a GGUF string (u64 length, then the bytes), checked to lie in the file.
    mutating func stringRange(_ what: @autoclosure () -> String) throws(WeightsError) -> Range<Int> {
        let start = unsafe position
        let length = unsafe try count("the length of \(what())")
        guard unsafe length <= remaining else {
            throw WeightsError(.invalidHeader,
                unsafe "\(what()) declares \(length) bytes, but only \(remaining) remain in the file",
                file: unsafe path, offset: start)
        }
        defer { unsafe position += length }
        return unsafe position..<position + length
    }

    /// A GGUF string decoded as UTF-8.
    mutating func string(_ what: @autoclosure () -> String) throws(WeightsError) -> String {
        let start = unsafe position
        let range = unsafe try stringRange(what())
        guard let text = unsafe GGUFByteReader.decode(bytes, range) else {
            throw WeightsError(.invalidHeader, "\(what()) is not valid UTF-8",
                               file: unsafe path, offset: start)
        }
        return text
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String? {
        unsafe String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}

extension GGUFByteReader {
    /// Reads a value of `type`. Arrays are checked (every nested length inside the file,
    /// depth at most ``GGUFArray/maximumDepth``) and skipped, not decoded.
    ///
    /// - Parameter depth: 0 for a key's value, one more for each enclosing array.
    mutating func value(of type: GGUFValueType, depth: Int, storage: ByteStorage, what: @autoclosure () -> String) throws(WeightsError) -> GGUFValue {
        switch type {
        case .uint8: return unsafe .uint8(try load(UInt8.self, what()))
        case .int8: return unsafe .int8(try load(Int8.self, what()))
        case .uint16: return unsafe .uint16(try load(UInt16.self, what()))
        case .int16: return unsafe .int16(try load(Int16.self, what()))
        case .uint32: return unsafe .uint32(try load(UInt32.self, what()))
        case .int32: return unsafe .int32(try load(Int32.self, what()))
        case .uint64: return unsafe .uint64(try load(UInt64.self, what()))
        case .int64: return unsafe .int64(try load(Int64.self, what()))
        case .float32: return unsafe .float32(Float(bitPattern: try load(UInt32.self, what())))
        case .float64: return unsafe .float64(Double(bitPattern: try load(UInt64.self, what())))
        case .bool:
            let start = unsafe position
            let byte = unsafe try load(UInt8.self, what())
            guard byte <= 1 else {
                throw WeightsError(.invalidData, "\(what()) is a BOOL of byte \(byte), not 0 or 1", file: unsafe path, offset: start)
            }
            return .bool(byte == 1)
        case .string:
            return unsafe .string(try string(what()))
        case .array:
            let header = unsafe try arrayHeader(depth: depth, what: what())
            let start = unsafe position
            unsafe try skipItems(header.type, count: header.count, depth: depth + 1, what: what())
            return unsafe .array(GGUFArray(elementType: header.type, count: header.count, byteRange: start..<position,
                                    storage: storage, depth: depth, path: path))
        }
    }

    /// Reads a value type field.
    mutating func valueType(_ what: @autoclosure () -> String) throws(WeightsError) -> GGUFValueType {
        let start = unsafe position
        let raw = unsafe try load(UInt32.self, "the type of \(what())")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw WeightsError(.invalidHeader, "\(what()) has value type \(raw); known types are 0 to 12",
                               file: unsafe path, offset: start)
        }
        return type
    }

    /// Reads an array's item type and count, checking the depth and that `count` items of the
    /// smallest size could fit in the bytes left.
    private mutating func arrayHeader(depth: Int, what: @autoclosure () -> String) throws(WeightsError) -> (type: GGUFValueType, count: Int) {
        let start = unsafe position
        guard depth < GGUFArray.maximumDepth else {
            throw WeightsError(.invalidHeader,
                "\(what()) nests arrays deeper than \(GGUFArray.maximumDepth) levels",
                file: unsafe path, offset: start)
        }
        let type = unsafe try valueType("the items of \(what())")
        let countAt = unsafe position
        let count = unsafe try self.count("the item count of \(what())")
        let (needed, overflow) = count.multipliedReportingOverflow(by: type.minimumSize)
        guard !overflow, unsafe needed <= remaining else {
            throw WeightsError(.invalidHeader,
                unsafe "\(what()) declares \(count) \(type) items, more than the \(remaining) bytes left can hold",
                file: unsafe path, offset: countAt)
        }
        return (type, count)
    }

    /// Skips one value of `type`, checking its structure.
    mutating func skip(_ type: GGUFValueType, depth: Int, what: @autoclosure () -> String) throws(WeightsError) {
        if let size = type.fixedSize {
            guard unsafe remaining >= size else { throw unsafe truncated(what(), needing: size) }
            unsafe position += size
        } else if type == .string {
            _ = unsafe try stringRange(what())
        } else {
            let header = unsafe try arrayHeader(depth: depth, what: what())
            unsafe try skipItems(header.type, count: header.count, depth: depth + 1, what: what())
        }
    }

    private mutating func skipItems(_ type: GGUFValueType, count: Int, depth: Int, what: @autoclosure () -> String) throws(WeightsError) {
        if let size = type.fixedSize {
            // arrayHeader checked count × size ≤ remaining.
            unsafe position += count * size
            return
        }
        if type == .string {
            // The hot case (a tokenizer's vocabulary): a tight walk over the length fields.
            var cursor = unsafe position
            let end = unsafe bytes.count
            for _ in 0..<count {
                guard end - cursor >= 8 else { unsafe position = cursor; throw unsafe truncated("a string in \(what())", needing: 8) }
                let length = unsafe UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: cursor, as: UInt64.self))
                guard length <= UInt64(end - cursor - 8) else {
                    unsafe position = cursor
                    throw WeightsError(.invalidHeader,
                        "a string in \(what()) declares \(length) bytes, but only \(end - cursor - 8) remain in the file",
                        file: unsafe path, offset: cursor)
                }
                cursor += 8 + Int(length)
            }
            unsafe position = cursor
            return
        }
        for _ in 0..<count { unsafe try skip(type, depth: depth, what: what()) }
    }
}
