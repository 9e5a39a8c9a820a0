import CWeightsSIMD
import WeightsCore
import WeightsIntegrity
/// How a chunk of tensor bytes is rearranged before it is compressed.
///
/// In a floating-point weight only the byte that holds the exponent is predictable; the
/// mantissa bytes are close to random. Mixed together, the random bytes hide the exponent's
/// regularity from the compressor. Split into planes — byte 0 of every element, then byte 1,
/// and so on — the exponent plane compresses well and the others can be stored as they are.
/// This is the method of ZipNN (arXiv 2411.05239).
///
/// `exponentPlanes` first swaps each element's sign bit with the top bit of the byte below it
/// (bit 8*w*-9 of a *w*-byte element). The top byte then holds eight exponent bits alone —
/// all of a BF16 or F32 exponent, the high eight of an F64 one — rather than seven of them
/// next to the sign. ZipNN moves the sign for the same reason, by a rotation; a swap leaves
/// the lower bytes where they were, and measured here it compresses F32 weights better.
///
/// `exponentWindow`, which the writer uses for BF16 and F32, goes further. Trained weights'
/// exponents span a few dozen values, so the exponent's top two bits hardly vary, while the
/// mantissa's top two bits are skewed by the exponent: within an octave a bell-shaped density
/// falls, so smaller mantissas are more frequent. Its top plane is a window of eight bits, the
/// exponent's low six above the mantissa's top two, so that zstd's Huffman code models the two
/// jointly; the exponent's top two bits go to a plane of their own, four elements a byte,
/// which compresses to almost nothing; the sign and the next five mantissa bits are packed
/// six bits an element, and stored. Only one plane is Huffman-decoded, as with exponent
/// planes. On all-MiniLM-L6-v2 it takes the BF16 cast from 1.5031× to 1.5120× and F32 from
/// 1.2209× to 1.2239×; F16, whose five exponent bits leave room for three mantissa bits in its
/// top byte already, gains nothing from it.
///
/// ```swift
/// ByteGrouping.exponentPlanes.split(bf16Bytes, width: 2, into: planes)
/// ByteGrouping.exponentPlanes.join(planes, width: 2, into: restored)   // == bf16Bytes
/// let sizes = ByteGrouping.exponentWindow.planeSizes(byteCount: bf16Bytes.count, width: 2)
/// ```
public enum ByteGrouping: UInt8, Sendable, CaseIterable {
    /// The bytes as they are, in one plane.
    case none = 0
    /// Byte *k* of every element in plane *k*, least significant first.
    case planes = 1
    /// As `planes`, after swapping each element's sign bit (bit 8*w*-1) with bit 8*w*-9.
    case exponentPlanes = 2
    /// GGML blocks split into their fields (format version 2, GGUF sources; see
    /// `BlockFields`). The planes depend on the block type, not on an element width:
    /// ``split(_:width:into:)`` and ``join(_:width:into:)`` copy such bytes as they are.
    case blockFields = 3
    /// For 2- and 4-byte floats with an 8-bit exponent (BF16, F32; format version 3): for
    /// 4-byte elements the low two bytes as byte planes, then the sign and the five mantissa
    /// bits below the window packed six bits an element, the exponent's top two bits packed
    /// four elements a byte, and the window: the exponent's low six bits above the mantissa's
    /// top two, a byte an element. Its planes are not all one size (``planeSizes(byteCount:width:)``).
    case exponentWindow = 4

    /// The element widths that grouping supports.
    public static let widths: Set<Int> = [2, 4, 8]

    /// The grouping and element width the writer uses for `dtype`: exponent windows for the
    /// floats with an 8-bit exponent (BF16, F32, and C64, two F32s), exponent planes for F16
    /// and F64, none for the rest — integers, booleans and single-byte or packed floats hold no
    /// exponent byte to separate.
    public static func preferred(for dtype: DType) -> (grouping: ByteGrouping, width: Int) {
        switch dtype {
        case .bf16: (.exponentWindow, 2)
        case .f32, .c64: (.exponentWindow, 4)
        case .f16: (.exponentPlanes, 2)
        case .f64: (.exponentPlanes, 8)
        default: (.none, 1)
        }
    }

    /// The element widths that exponent windows support.
    public static let windowWidths: Set<Int> = [2, 4]

    /// The sizes of the planes, in order, that `byteCount` bytes of `width`-byte elements
    /// split into: one plane of `byteCount` for `none` and `blockFields` (whose planes
    /// `BlockFields` sizes), `width` planes of `byteCount / width` for `planes` and
    /// `exponentPlanes`, and for `exponentWindow` over *n* elements [*n*, *n*,] ⌈6*n*/8⌉,
    /// ⌈*n*/4⌉, *n* (the two byte planes for 4-byte elements only).
    ///
    /// - Complexity: O(1).
    public func planeSizes(byteCount: Int, width: Int) -> [Int] {
        switch self {
        case .none, .blockFields: return [byteCount]
        case .planes, .exponentPlanes: return Array(repeating: byteCount / width, count: width)
        case .exponentWindow:
            let count = byteCount / width
            return Array(repeating: count, count: width - 2) + [(6 * count + 7) / 8, (count + 3) / 4, count]
        }
    }

    /// Writes the planes of `source` into `destination`, which holds the sum of
    /// ``planeSizes(byteCount:width:)`` (for all but exponent windows, `source.count`); plane
    /// *k* of `planes` and `exponentPlanes` occupies bytes `k*n ..< (k+1)*n` for *n* elements
    /// of `width` bytes.
    ///
    /// - Complexity: O(*n*).
    public func split(_ source: UnsafeRawBufferPointer, width: Int, into destination: UnsafeMutableRawBufferPointer) {
        // Sound: passes the caller's buffers on, within the call.
        unsafe split(source, width: width, into: destination, portable: false)
    }

    /// ``split(_:width:into:)`` with the kernel chosen: exponent windows are split by a C
    /// kernel (AVX2 where the CPU has it, or its portable loop when `portable`; the same
    /// bytes), the other groupings here.
    package func split(_ source: UnsafeRawBufferPointer, width: Int, into destination: UnsafeMutableRawBufferPointer,
                       portable: Bool) {
        // Sound: both buffers are the caller's for the call; `destination` holds the planes'
        // bytes and `source` a whole number of `width`-byte elements for the widths that reach
        // a loop (checked); the C split writes exactly its planes' size.
        checkSizes(elements: source.count, planes: destination.count, width: width)
        guard let from = source.baseAddress, let to = destination.baseAddress else { return }
        if self == .exponentWindow {
            _ = unsafe weights_split_exponent_window(from, source.count / width, width, to,
                                                     portable ? WEIGHTS_KERNEL_PORTABLE : WEIGHTS_KERNEL_BEST)
            return
        }
        let swap = self == .exponentPlanes
        switch (self, width) {
        case (.none, _), (.blockFields, _): unsafe to.copyMemory(from: from, byteCount: source.count)
        case (_, 2): unsafe Self.split(from, to, count: source.count / 2, swap: swap, as: UInt16.self)
        case (_, 4): unsafe Self.split(from, to, count: source.count / 4, swap: swap, as: UInt32.self)
        case (_, 8): unsafe Self.split(from, to, count: source.count / 8, swap: swap, as: UInt64.self)
        default: preconditionFailure("byte grouping of \(width)-byte elements")
        }
    }

    /// Reverses ``split(_:width:into:)``: interleaves the planes in `source` into the
    /// elements of `destination`.
    ///
    /// - Complexity: O(*n*).
    public func join(_ source: UnsafeRawBufferPointer, width: Int, into destination: UnsafeMutableRawBufferPointer) {
        // Sound: passes the caller's buffers on, within the call.
        unsafe join(source, width: width, into: destination, portable: false)
    }

    /// ``join(_:width:into:)`` with the kernel chosen: 2- and 4-byte elements are interleaved
    /// by the C kernels (AVX2 where the CPU has it, 32 elements a step, or their portable loop
    /// when `portable`; the same bytes), 8-byte ones here.
    package func join(_ source: UnsafeRawBufferPointer, width: Int, into destination: UnsafeMutableRawBufferPointer,
                      portable: Bool) {
        let kernel = portable ? WEIGHTS_KERNEL_PORTABLE : WEIGHTS_KERNEL_BEST
        // Sound: as in `split`; the C kernels read the planes' bytes and write `count × width`,
        // which `source` and `destination` hold (the preconditions), and they do not overlap.
        checkSizes(elements: destination.count, planes: source.count, width: width)
        guard let from = source.baseAddress, let to = destination.baseAddress else { return }
        if self == .exponentWindow {
            _ = unsafe weights_join_exponent_window(from, destination.count / width, width, to, kernel)
            return
        }
        let swap = self == .exponentPlanes
        switch (self, width) {
        case (.none, _), (.blockFields, _): unsafe to.copyMemory(from: from, byteCount: source.count)
        case (_, 2), (_, 4): _ = unsafe weights_join_byte_planes(from, source.count / width, width, to, swap, kernel)
        case (_, 8): unsafe Self.join(from, to, count: source.count / 8, swap: swap, as: UInt64.self)
        default: preconditionFailure("byte grouping of \(width)-byte elements")
        }
    }

    /// Traps unless `elements` bytes of `width`-byte elements and `planes` bytes of planes
    /// agree: a whole number of elements where they are grouped, and the planes' size
    /// (``planeSizes(byteCount:width:)``; the elements' size but for exponent windows).
    private func checkSizes(elements: Int, planes: Int, width: Int) {
        precondition(self == .none || self == .blockFields || elements % width == 0)
        if self == .exponentWindow {
            precondition(Self.windowWidths.contains(width) && planes == planeSizes(byteCount: elements, width: width).reduce(0, +))
        } else {
            precondition(planes == elements)
        }
    }

    // Two loops per direction rather than a test per element: the swap is decided once.
    // Sound: here and in `scatter`, `join` and `gather`, `from` and `to` each address
    // `count × width` bytes (the public callers' precondition); element `e`'s load or store
    // is bytes `e·width ..< (e+1)·width`, and plane byte `b·count + e` < `width·count`, as
    // `b < width` and `e < count`. Raw bytes may be read or written as `UInt8`.
    @inline(__always)
    private static func split<Word: FixedWidthInteger & UnsignedInteger>(
        _ from: UnsafeRawPointer, _ to: UnsafeMutableRawPointer, count: Int, swap: Bool, as: Word.Type
    ) {
        let planes = unsafe to.assumingMemoryBound(to: UInt8.self)
        let width = MemoryLayout<Word>.size
        if swap {
            for element in 0..<count {
                let word = unsafe Word(littleEndian: from.loadUnaligned(fromByteOffset: element * width, as: Word.self))
                unsafe scatter(word.swappingSignBit, planes, element, count)
            }
        } else {
            for element in 0..<count {
                let word = unsafe Word(littleEndian: from.loadUnaligned(fromByteOffset: element * width, as: Word.self))
                unsafe scatter(word, planes, element, count)
            }
        }
    }

    // Sound: see `split`.
    @inline(__always)
    private static func scatter<Word: FixedWidthInteger>(_ word: Word, _ planes: UnsafeMutablePointer<UInt8>, _ element: Int, _ count: Int) {
        // Masking shifts (`&>>`): Swift's `>>` checks for over-wide shifts, which keeps these
        // loops from vectorizing.
        for byte in 0..<MemoryLayout<Word>.size {
            unsafe planes[byte &* count &+ element] = UInt8(truncatingIfNeeded: word &>> (byte &* 8))
        }
    }

    // Sound: see `split`.
    @inline(__always)
    private static func join<Word: FixedWidthInteger & UnsignedInteger>(
        _ from: UnsafeRawPointer, _ to: UnsafeMutableRawPointer, count: Int, swap: Bool, as: Word.Type
    ) {
        let planes = unsafe from.assumingMemoryBound(to: UInt8.self)
        let width = MemoryLayout<Word>.size
        if swap {
            for element in 0..<count {
                let word = unsafe gather(planes, element, count, as: Word.self).swappingSignBit
                unsafe to.storeBytes(of: word.littleEndian, toByteOffset: element * width, as: Word.self)
            }
        } else {
            for element in 0..<count {
                let word = unsafe gather(planes, element, count, as: Word.self)
                unsafe to.storeBytes(of: word.littleEndian, toByteOffset: element * width, as: Word.self)
            }
        }
    }

    // Sound: see `split`.
    @inline(__always)
    private static func gather<Word: FixedWidthInteger>(_ planes: UnsafePointer<UInt8>, _ element: Int, _ count: Int, as: Word.Type) -> Word {
        var word: Word = 0
        for byte in 0..<MemoryLayout<Word>.size {
            unsafe word |= Word(truncatingIfNeeded: planes[byte &* count &+ element]) &<< (byte &* 8)
        }
        return word
    }
}

extension FixedWidthInteger where Self: UnsignedInteger {
    /// The word with its top bit and bit `bitWidth - 9` exchanged; its own inverse.
    @inline(__always) var swappingSignBit: Self {
        let top = Self.bitWidth &- 1, below = Self.bitWidth &- 9
        let differ = (self &>> top ^ self &>> below) & 1
        return self ^ (differ &<< top | differ &<< below)
    }
}
