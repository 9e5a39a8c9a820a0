/// How a chunk of tensor bytes is rearranged before it is compressed.
///
/// In a floating-point weight only the byte that holds the exponent is predictable; the
/// mantissa bytes are close to random. Mixed together, the random bytes hide the exponent's
/// regularity from the compressor. Split into planes — byte 0 of every element, then byte 1,
/// and so on — the exponent plane compresses well and the others can be stored as they are.
/// This is the method of ZipNN (arXiv 2411.05239).
///
/// `rotatedPlanes` first rotates every element left by one bit, which moves the sign from the
/// top bit to the bottom one: the top byte then holds the exponent's high eight bits alone
/// (all of a BF16 or F32 exponent), rather than seven of them next to the sign.
///
/// ```swift
/// ByteGrouping.rotatedPlanes.split(bf16Bytes, width: 2, into: planes)
/// ByteGrouping.rotatedPlanes.join(planes, width: 2, into: restored)   // == bf16Bytes
/// ```
public enum ByteGrouping: UInt8, Sendable, CaseIterable {
    /// The bytes as they are, in one plane.
    case none = 0
    /// Byte *k* of every element in plane *k*, least significant first.
    case planes = 1
    /// As `planes`, after rotating each little-endian element left by one bit.
    case rotatedPlanes = 2

    /// The element widths that grouping supports.
    public static let widths: Set<Int> = [2, 4, 8]

    /// The grouping and element width the writer uses for `dtype`: rotated planes for the
    /// IEEE-style floating dtypes (a C64 is two F32s), none for the rest — integers, booleans
    /// and single-byte or packed floats hold no exponent byte to separate.
    public static func preferred(for dtype: DType) -> (grouping: ByteGrouping, width: Int) {
        switch dtype {
        case .f16, .bf16: (.rotatedPlanes, 2)
        case .f32, .c64: (.rotatedPlanes, 4)
        case .f64: (.rotatedPlanes, 8)
        default: (.none, 1)
        }
    }

    /// Writes the planes of `source` into `destination`, which has the same size; plane *k*
    /// occupies bytes `k*n ..< (k+1)*n` for *n* elements of `width` bytes.
    ///
    /// - Complexity: O(*n*).
    public func split(_ source: UnsafeRawBufferPointer, width: Int, into destination: UnsafeMutableRawBufferPointer) {
        precondition(source.count == destination.count && (self == .none || source.count % width == 0))
        guard let from = source.baseAddress, let to = destination.baseAddress else { return }
        let rotate = self == .rotatedPlanes
        switch (self, width) {
        case (.none, _): to.copyMemory(from: from, byteCount: source.count)
        case (_, 2): Self.split(from, to, count: source.count / 2, rotate: rotate, as: UInt16.self)
        case (_, 4): Self.split(from, to, count: source.count / 4, rotate: rotate, as: UInt32.self)
        case (_, 8): Self.split(from, to, count: source.count / 8, rotate: rotate, as: UInt64.self)
        default: preconditionFailure("byte grouping of \(width)-byte elements")
        }
    }

    /// Reverses ``split(_:width:into:)``: interleaves the planes in `source` into elements.
    ///
    /// - Complexity: O(*n*).
    public func join(_ source: UnsafeRawBufferPointer, width: Int, into destination: UnsafeMutableRawBufferPointer) {
        precondition(source.count == destination.count && (self == .none || source.count % width == 0))
        guard let from = source.baseAddress, let to = destination.baseAddress else { return }
        let rotate = self == .rotatedPlanes
        switch (self, width) {
        case (.none, _): to.copyMemory(from: from, byteCount: source.count)
        case (_, 2): Self.join(from, to, count: source.count / 2, rotate: rotate, as: UInt16.self)
        case (_, 4): Self.join(from, to, count: source.count / 4, rotate: rotate, as: UInt32.self)
        case (_, 8): Self.join(from, to, count: source.count / 8, rotate: rotate, as: UInt64.self)
        default: preconditionFailure("byte grouping of \(width)-byte elements")
        }
    }

    // Two loops per direction rather than a test per element: the rotation is decided once.
    @inline(__always)
    private static func split<Word: FixedWidthInteger & UnsignedInteger>(
        _ from: UnsafeRawPointer, _ to: UnsafeMutableRawPointer, count: Int, rotate: Bool, as: Word.Type
    ) {
        let planes = to.assumingMemoryBound(to: UInt8.self)
        let width = MemoryLayout<Word>.size
        if rotate {
            for element in 0..<count {
                let word = Word(littleEndian: from.loadUnaligned(fromByteOffset: element * width, as: Word.self))
                scatter(word.rotatedLeftByOne, planes, element, count)
            }
        } else {
            for element in 0..<count {
                let word = Word(littleEndian: from.loadUnaligned(fromByteOffset: element * width, as: Word.self))
                scatter(word, planes, element, count)
            }
        }
    }

    @inline(__always)
    private static func scatter<Word: FixedWidthInteger>(_ word: Word, _ planes: UnsafeMutablePointer<UInt8>, _ element: Int, _ count: Int) {
        for byte in 0..<MemoryLayout<Word>.size {
            planes[byte * count + element] = UInt8(truncatingIfNeeded: word >> (byte * 8))
        }
    }

    @inline(__always)
    private static func join<Word: FixedWidthInteger & UnsignedInteger>(
        _ from: UnsafeRawPointer, _ to: UnsafeMutableRawPointer, count: Int, rotate: Bool, as: Word.Type
    ) {
        let planes = from.assumingMemoryBound(to: UInt8.self)
        let width = MemoryLayout<Word>.size
        if rotate {
            for element in 0..<count {
                let word = gather(planes, element, count, as: Word.self).rotatedRightByOne
                to.storeBytes(of: word.littleEndian, toByteOffset: element * width, as: Word.self)
            }
        } else {
            for element in 0..<count {
                let word = gather(planes, element, count, as: Word.self)
                to.storeBytes(of: word.littleEndian, toByteOffset: element * width, as: Word.self)
            }
        }
    }

    @inline(__always)
    private static func gather<Word: FixedWidthInteger>(_ planes: UnsafePointer<UInt8>, _ element: Int, _ count: Int, as: Word.Type) -> Word {
        var word: Word = 0
        for byte in 0..<MemoryLayout<Word>.size {
            word |= Word(planes[byte * count + element]) << (byte * 8)
        }
        return word
    }
}

extension FixedWidthInteger where Self: UnsignedInteger {
    @inline(__always) var rotatedLeftByOne: Self { self << 1 | self >> (Self.bitWidth - 1) }
    @inline(__always) var rotatedRightByOne: Self { self >> 1 | self << (Self.bitWidth - 1) }
}
