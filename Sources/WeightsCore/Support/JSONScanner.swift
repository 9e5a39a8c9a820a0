/// A strict, bounded JSON reader over a byte buffer, for safetensors headers and shard indexes.
///
/// Foundation's JSON reader keeps the last of duplicate keys silently, forgets key order and
/// accepts any number form; a header's rules need all three. `JSONScanner` reads one token at a
/// time so callers can apply a schema as they go, and bounds nesting at ``maximumDepth``.
///
/// Errors are `invalidHeaderDeserialization`, with the byte offset relative to `base`.
///
/// Visible to the package's other modules (`package`), which read their own JSON files with it
/// (the engine's `tokenizer.json`); not part of the public API.
@unsafe  // Unsafe: reads through a pointer it does not own; valid only inside the scope that lends the bytes.
package struct JSONScanner {
    /// The most containers (objects and arrays) that may nest, the outermost object included.
    /// The reference reader accepts 127 and refuses 128.
    package static let maximumNesting = 127

    let bytes: UnsafeRawBufferPointer
    /// Added to positions in error messages, to report offsets in the file.
    let base: Int
    /// What a position is counted in, for messages: "header byte", or "byte" for a whole file.
    let unit: String
    package private(set) var position = 0

    package init(_ bytes: UnsafeRawBufferPointer, base: Int = 0, unit: String = "header byte") {
        // Sound: the caller lends `bytes` for the scanner's whole life (the type's contract).
        unsafe self.bytes = unsafe bytes
        unsafe self.base = base
        unsafe self.unit = unit
    }

    package var isAtEnd: Bool { unsafe position >= bytes.count }  // Sound: compares the position only.

    package func error(_ reason: String) -> WeightsError {
        // Sound: reads the position only.
        WeightsError(.invalidHeaderDeserialization, unsafe "\(reason) at \(unit) \(position)",
                     offset: unsafe base + position)
    }

    @inline(__always)
    package mutating func skipWhitespace() {
        // Sound: every read is at an index checked against `bytes.count` just before it.
        while unsafe position < bytes.count {
            switch unsafe bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: unsafe position += 1
            default: return
            }
        }
    }

    /// The next non-space byte, not consumed. (Inlined, as are `expect` and `consume`: they
    /// run several times per tensor, and the calls took a sixth of the time to read a header.)
    @inline(__always)
    package mutating func peek() throws -> UInt8 {
        // Sound: every read is at an index checked against `bytes.count` just before it.
        unsafe skipWhitespace()
        guard unsafe position < bytes.count else { throw unsafe error("unexpected end of JSON") }
        return unsafe bytes[position]
    }

    @inline(__always)
    package mutating func expect(_ byte: UInt8) throws {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        guard unsafe try peek() == byte else {
            throw unsafe error("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        unsafe position += 1
    }

    /// Consumes `byte` if it comes next.
    @inline(__always)
    package mutating func consume(_ byte: UInt8) throws -> Bool {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        guard unsafe try peek() == byte else { return false }
        unsafe position += 1
        return true
    }

    /// Reads the members of an object: `body` is called with each key and must consume the
    /// value. Duplicate keys are refused by `body`'s owner; this only reads the syntax.
    package mutating func readObject(_ body: (inout JSONScanner, String) throws -> Void) throws {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        unsafe try expect(UInt8(ascii: "{"))
        if unsafe try consume(UInt8(ascii: "}")) { return }
        repeat {
            guard unsafe try peek() == UInt8(ascii: "\"") else { throw unsafe error("expected a string key") }
            let key = unsafe try readString()
            unsafe try expect(UInt8(ascii: ":"))
            unsafe try body(&self, key)
        } while unsafe try consume(UInt8(ascii: ","))
        unsafe try expect(UInt8(ascii: "}"))
    }

    /// Starts reading an object without a closure, for hot loops: consumes `{` and returns
    /// whether a member follows. Read each member with ``readKey()`` and its value, then call
    /// ``continueObject()``.
    package mutating func beginObject() throws -> Bool {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        unsafe try expect(UInt8(ascii: "{"))
        return unsafe try !consume(UInt8(ascii: "}"))
    }

    /// Reads a member's key and the colon after it.
    package mutating func readKey() throws -> String {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        guard unsafe try peek() == UInt8(ascii: "\"") else { throw unsafe error("expected a string key") }
        let key = unsafe try readString()
        unsafe try expect(UInt8(ascii: ":"))
        return key
    }

    /// After a member's value: consumes `,` and returns true, or `}` and returns false.
    package mutating func continueObject() throws -> Bool {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        if unsafe try consume(UInt8(ascii: ",")) { return true }
        unsafe try expect(UInt8(ascii: "}"))
        return false
    }

    /// Reads the elements of an array: `body` must consume each element.
    package mutating func readArray(_ body: (inout JSONScanner) throws -> Void) throws {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        unsafe try expect(UInt8(ascii: "["))
        if unsafe try consume(UInt8(ascii: "]")) { return }
        repeat { unsafe try body(&self) } while unsafe try consume(UInt8(ascii: ","))
        unsafe try expect(UInt8(ascii: "]"))
    }

    /// Reads a string that holds no escape and returns its bytes, which stay valid while the
    /// scanned buffer does; returns nil, consuming nothing, when the string has an escape (read
    /// it with ``readString()``). Spares building a `String` for keys and codes that are only
    /// compared.
    package mutating func readRawString() throws -> UnsafeRawBufferPointer? {
        // Sound: firstSpecialByte returns at most `bytes.count`, checked before the read; the slice
        // returned lies between the quotes, valid as long as `bytes`.
        unsafe try expect(UInt8(ascii: "\""))
        let start = unsafe position
        unsafe position = unsafe Self.firstSpecialByte(in: bytes, from: position)
        guard unsafe position < bytes.count else { throw unsafe error("unterminated string") }
        switch unsafe bytes[position] {
        case UInt8(ascii: "\""):
            unsafe position += 1
            return unsafe UnsafeRawBufferPointer(rebasing: bytes[start..<position - 1])
        case UInt8(ascii: "\\"):
            unsafe position = start - 1
            return nil
        default:
            throw unsafe error("control character in string")
        }
    }

    /// The position of the first `"`, `\` or control character at or after `start`, or the
    /// buffer's end. Checks eight bytes per step: names are tens of bytes long, and this loop is
    /// most of the time spent reading a large header.
    private static func firstSpecialByte(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        // Sound: 8-byte loads only while `position + 8 <= bytes.count`, byte reads while `position
        // < bytes.count`.
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var position = start
        while position + 8 <= bytes.count {
            let word = unsafe bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)
            // A byte of `x` is flagged (its top bit set) when it is zero; bytes >= 0x80 are
            // excluded with `~word`, so UTF-8 continuation bytes never match.
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            let flags = ((quote &- ones) | (backslash &- ones) | (word &- ones &* 0x20)) & ~word & highs
            if flags != 0 { return position + flags.trailingZeroBitCount / 8 }
            position += 8
        }
        while position < bytes.count {
            let byte = unsafe bytes[position]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return position }
            position += 1
        }
        return position
    }

    /// Reads a string, resolving escapes. Raw control characters and lone surrogates are refused.
    package mutating func readString() throws -> String {
        // Sound: every read is at an index checked against `bytes.count` just before it.
        // Nearly every string has no escape: take its bytes as they are.
        if let raw = unsafe try readRawString() { return unsafe String(decoding: raw, as: UTF8.self) }
        unsafe try expect(UInt8(ascii: "\""))
        var scalars: [UInt8] = []
        while true {
            guard unsafe position < bytes.count else { throw unsafe error("unterminated string") }
            let byte = unsafe bytes[position]
            unsafe position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: scalars, as: UTF8.self)
            case UInt8(ascii: "\\"):
                unsafe try readEscape(into: &scalars)
            case ..<0x20:
                unsafe position -= 1
                throw unsafe error("control character in string")
            default:
                scalars.append(byte)
            }
        }
    }

    private mutating func readEscape(into out: inout [UInt8]) throws {
        // Sound: every read is at an index checked against `bytes.count` just before it.
        // (surrogates: `position + 1 < bytes.count`)
        guard unsafe position < bytes.count else { throw unsafe error("unterminated string") }
        let byte = unsafe bytes[position]
        unsafe position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var value = unsafe try readHex4()
            if (0xD800..<0xDC00).contains(value) {
                guard unsafe position + 1 < bytes.count, unsafe bytes[position] == UInt8(ascii: "\\"),
                      unsafe bytes[position + 1] == UInt8(ascii: "u") else { throw unsafe error("lone surrogate in string") }
                unsafe position += 2
                let low = unsafe try readHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw unsafe error("lone surrogate in string") }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(value) {
                throw unsafe error("lone surrogate in string")
            }
            out.append(contentsOf: String(Character(Unicode.Scalar(value)!)).utf8)
        default:
            unsafe position -= 1
            throw unsafe error("invalid escape in string")
        }
    }

    private mutating func readHex4() throws -> UInt32 {
        // Sound: every read is at an index checked against `bytes.count` just before it. (`position
        // + 4 <= bytes.count` for all four)
        guard unsafe position + 4 <= bytes.count else { throw unsafe error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = unsafe bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw unsafe error("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            unsafe position += 1
        }
        return value
    }

    /// Reads a non-negative integer in plain decimal that fits in 64 bits. Fractions,
    /// exponents, signs and leading zeros are refused, as the header's number rules require.
    package mutating func readUInt64() throws -> UInt64 {
        // Sound: every read is at an index checked against `bytes.count` just before it.
        let start = unsafe try peek()
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(start) else {
            throw unsafe error("expected a non-negative integer")
        }
        var value: UInt64 = 0
        let first = unsafe position
        while unsafe position < bytes.count, unsafe (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = unsafe times10.addingReportingOverflow(UInt64(bytes[position] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw unsafe error("integer does not fit in 64 bits") }
            value = sum
            unsafe position += 1
        }
        if start == UInt8(ascii: "0"), unsafe position - first > 1 {
            throw unsafe error("number with a leading zero")
        }
        if unsafe position < bytes.count, unsafe bytes[position] == UInt8(ascii: ".") || bytes[position] | 0x20 == UInt8(ascii: "e") {
            throw unsafe error("expected an integer, found a floating-point number")
        }
        return value
    }

    /// Reads any value into a ``JSONValue``.
    ///
    /// `depth` is the number of containers around the value.
    package mutating func readValue(depth: Int = 0) throws -> JSONValue {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        switch unsafe try peek() {
        case UInt8(ascii: "{"):
            unsafe try checkNesting(depth)
            var members: [(String, JSONValue)] = []
            var seen = Set<UTF8Key>()
            unsafe try readObject { scanner, key in
                guard seen.insert(UTF8Key(key)).inserted else { throw unsafe scanner.error("duplicate key \"\(key)\"") }
                unsafe members.append((key, try scanner.readValue(depth: depth + 1)))
            }
            return .object(members)
        case UInt8(ascii: "["):
            unsafe try checkNesting(depth)
            var elements: [JSONValue] = []
            unsafe try readArray { unsafe elements.append(try $0.readValue(depth: depth + 1)) }
            return .array(elements)
        case UInt8(ascii: "\""):
            return unsafe .string(try readString())
        case UInt8(ascii: "t"):
            unsafe try readLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            unsafe try readLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            unsafe try readLiteral("null")
            return .null
        default:
            return unsafe .number(try readNumberText())
        }
    }

    /// Skips any value, with the same checks as ``readValue(depth:)`` and no allocation for
    /// containers.
    package mutating func skipValue(depth: Int = 0) throws {
        // Sound: calls the scanner's own checked reads (`unsafe` marks the @unsafe type).
        switch unsafe try peek() {
        case UInt8(ascii: "{"):
            unsafe try checkNesting(depth)
            var seen = Set<UTF8Key>()
            unsafe try readObject { scanner, key in
                guard seen.insert(UTF8Key(key)).inserted else { throw unsafe scanner.error("duplicate key \"\(key)\"") }
                unsafe try scanner.skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "["):
            unsafe try checkNesting(depth)
            unsafe try readArray { unsafe try $0.skipValue(depth: depth + 1) }
        default:
            _ = unsafe try readValue(depth: depth)
        }
    }

    /// Refuses a container with `depth` containers around it when that nests too deep.
    private func checkNesting(_ depth: Int) throws {
        // Sound: reads constants only.
        guard unsafe depth < Self.maximumNesting else {
            throw unsafe error(unsafe "JSON nested deeper than \(Self.maximumNesting) levels")
        }
    }

    private mutating func readLiteral(_ word: StaticString) throws {
        // Sound: memcmp reads `count` bytes at `position` after `position + count <= bytes.count`,
        // and the static string's.
        let count = word.utf8CodeUnitCount
        guard unsafe position + count <= bytes.count,
              unsafe memcmp(bytes.baseAddress! + position, word.utf8Start, count) == 0
        else { throw unsafe error("invalid literal") }
        unsafe position += count
    }

    /// Reads a number in JSON's grammar and returns its text.
    private mutating func readNumberText() throws -> String {
        // Sound: every read is at an index checked against `bytes.count` just before it. The text
        // is copied from inside `bytes`.
        let start = unsafe position
        func digits() -> Int {
            let from = unsafe position
            while unsafe position < bytes.count, unsafe (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { unsafe position += 1 }
            return unsafe position - from
        }
        if unsafe position < bytes.count, unsafe bytes[position] == UInt8(ascii: "-") { unsafe position += 1 }
        let leadingZero = unsafe position < bytes.count && bytes[position] == UInt8(ascii: "0")
        let integerDigits = digits()
        guard integerDigits > 0 else { throw unsafe error("invalid value") }
        guard !(leadingZero && integerDigits > 1) else { throw unsafe error("number with a leading zero") }
        if unsafe position < bytes.count, unsafe bytes[position] == UInt8(ascii: ".") {
            unsafe position += 1
            guard digits() > 0 else { throw unsafe error("invalid number") }
        }
        if unsafe position < bytes.count, unsafe bytes[position] | 0x20 == UInt8(ascii: "e") {
            unsafe position += 1
            if unsafe position < bytes.count, unsafe bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { unsafe position += 1 }
            guard digits() > 0 else { throw unsafe error("invalid number") }
        }
        let text = unsafe String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard Double(text)?.isFinite == true else { throw unsafe error("number out of range") }
        return text
    }
}

extension UnsafeRawBufferPointer {
    /// Whether these bytes are exactly `text`'s UTF-8. Meant for short keys and codes, which it
    /// compares inline: a `memcmp` call costs more than the bytes it would compare.
    @inline(__always)
    package func holds(_ text: StaticString) -> Bool {
        // Sound: reads `count` bytes of the buffer after checking `count` is the text's length, and
        // the static string's bytes.
        guard count == text.utf8CodeUnitCount else { return false }
        let expected = unsafe text.utf8Start
        for index in 0..<count where unsafe load(fromByteOffset: index, as: UInt8.self) != expected[index] { return false }
        return true
    }
}

/// A parsed JSON value that keeps object members in order. Numbers keep their text.
package enum JSONValue: Sendable, Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    package static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case let (.object(a), .object(b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.array(a), .array(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.number(a), .number(b)): a == b
        case let (.bool(a), .bool(b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    /// Parses a whole document: one value with optional surrounding whitespace.
    package static func parse(_ bytes: UnsafeRawBufferPointer, unit: String = "header byte") throws -> JSONValue {
        // Sound: the scanner lives only inside this call, while the caller lends `bytes`.
        var scanner = unsafe JSONScanner(bytes, unit: unit)
        let value = unsafe try scanner.readValue()
        unsafe scanner.skipWhitespace()
        guard unsafe scanner.isAtEnd else { throw unsafe scanner.error("trailing characters after JSON") }
        return value
    }

    package subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }
}

import WeightsPlatform
