import CWeightsSIMD

/// The floating-point formats Weights converts between, and the element-wise conversion.
///
/// Every conversion rounds once, to nearest with ties to even, from the source value (F64 to
/// F16 and F64 to BF16 too, with no intermediate rounding); produces subnormals; and overflows
/// to infinity, counting the finite values that did. NaN stays NaN with its sign; it is made
/// quiet and keeps the top bits of its payload, as the F16C instructions do.
///
/// ```swift
/// let source: [Float] = [1, 65519, 65520, 0x1p-25]
/// var half = [Float16](repeating: 0, count: 4)
/// let overflows = source.withUnsafeBufferPointer { s in
///     half.withUnsafeMutableBufferPointer { FloatFormat.convert(s, into: $0) }
/// }
/// // half == [1, 65504, inf, 0], overflows == 1
/// ```
public enum FloatFormat: Sendable, Hashable, CaseIterable {
    case f64, f32, f16, bf16, f8E4M3, f8E5M2

    /// The format of `dtype`, or `nil` when `dtype` is not one of these.
    public init?(_ dtype: DType) {
        switch dtype {
        case .f64: self = .f64
        case .f32: self = .f32
        case .f16: self = .f16
        case .bf16: self = .bf16
        case .f8E4M3: self = .f8E4M3
        case .f8E5M2: self = .f8E5M2
        default: return nil
        }
    }

    public var dtype: DType {
        switch self {
        case .f64: .f64
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .f8E4M3: .f8E4M3
        case .f8E5M2: .f8E5M2
        }
    }

    /// Bytes per element.
    public var byteWidth: Int { dtype.byteWidth! }

    /// Whether values can be written in this format (the 8-bit formats are read-only).
    public var isWritable: Bool { self != .f8E4M3 && self != .f8E5M2 }

    /// Whether every value of this format is exactly a `Float`.
    var widensExactlyToFloat: Bool { self != .f64 }
}

/// Which implementation converts between F32 and the 16-bit formats, quantizes to int8, or
/// decodes GGUF blocks (``GGUFTensor/dequantized(blocks:kernel:)``).
public enum ConversionKernel: Sendable, Hashable {
    /// AVX2 and F16C when the CPU has them (checked at run time), the portable loop otherwise.
    case best
    /// The portable loop only. It gives the same bits; it is here for tests and comparisons.
    case portable

    /// Whether ``best`` uses SIMD instructions on this machine.
    public static var simdAvailable: Bool { weights_simd_conversion_available() }

    var code: Int32 { self == .best ? WEIGHTS_KERNEL_BEST : WEIGHTS_KERNEL_PORTABLE }
}

extension FloatFormat {
    /// Converts `source`, holding elements of `from`, into `destination` as `to`.
    ///
    /// Neither buffer needs to be aligned; they must not overlap. `destination` must hold
    /// exactly as many elements as `source`. F32↔F16 and F32↔BF16 run at memory speed (SIMD);
    /// other pairs go through `Float` in small blocks, which is exact on the way in, so they
    /// still round once.
    ///
    /// - Returns: How many finite source values became infinite (overflow).
    /// - Complexity: O(*n*), one pass; no allocation.
    @discardableResult
    public static func convert(
        _ source: UnsafeRawBufferPointer, from: FloatFormat, to: FloatFormat,
        into destination: UnsafeMutableRawBufferPointer, kernel: ConversionKernel = .best
    ) -> Int {
        precondition(to.isWritable, "cannot write \(to)")
        let count = source.count / from.byteWidth
        precondition(source.count == count * from.byteWidth, "source is not a whole number of elements")
        precondition(destination.count == count * to.byteWidth, "destination size does not match")
        guard count > 0 else { return 0 }
        // Sound: the preconditions above make `source` exactly `count` elements of `from` and
        // `destination` exactly `count` of `to`; both are the caller's, valid for the call.
        if from == to {
            unsafe destination.copyMemory(from: source)
            return 0
        }
        if let overflows = unsafe convertDirectly(source, from: from, to: to, into: destination, count: count, kernel: kernel) {
            return overflows
        }
        return unsafe convertThroughFloat(source, from: from, to: to, into: destination, count: count, kernel: kernel)
    }

    /// Converts between typed buffers of floating element types (`Float`, `Float16`,
    /// `BFloat16`, `Double`) of the same count.
    ///
    /// - Returns: How many finite source values became infinite.
    /// - Complexity: O(*n*).
    @discardableResult
    public static func convert<Source: TensorElement, Destination: TensorElement>(
        _ source: UnsafeBufferPointer<Source>, into destination: UnsafeMutableBufferPointer<Destination>,
        kernel: ConversionKernel = .best
    ) -> Int {
        guard let from = FloatFormat(Source.dtype), let to = FloatFormat(Destination.dtype) else {
            preconditionFailure("\(Source.self) or \(Destination.self) is not a floating element type")
        }
        precondition(source.count == destination.count, "buffers differ in length")
        // Sound: same counts of elements, whose byte widths are their formats' (checked again).
        return unsafe convert(UnsafeRawBufferPointer(source), from: from, to: to,
                       into: UnsafeMutableRawBufferPointer(destination), kernel: kernel)
    }

    /// The pairs with a one-pass kernel, or `nil` for the others.
    private static func convertDirectly(
        _ source: UnsafeRawBufferPointer, from: FloatFormat, to: FloatFormat,
        into destination: UnsafeMutableRawBufferPointer, count: Int, kernel: ConversionKernel
    ) -> Int? {
        let input = source.baseAddress!, output = destination.baseAddress!
        // Sound: `convert` checked that both buffers hold `count` elements of their formats;
        // each kernel reads and writes exactly those.
        switch (from, to) {
        case (.f32, .f16): return unsafe weights_f32_to_f16(input, output, count, kernel.code)
        case (.f32, .bf16): return unsafe weights_f32_to_bf16(input, output, count, kernel.code)
        case (.f16, .f32): unsafe weights_f16_to_f32(input, output, count, kernel.code)
        case (.bf16, .f32): unsafe weights_bf16_to_f32(input, output, count, kernel.code)
        case (.f64, .f32): return unsafe narrowDoubles(source, into: destination, count: count)
        case (.f32, .f64):
            for index in 0..<count {
                let value = unsafe source.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
                unsafe destination.storeBytes(of: Double(value), toByteOffset: index * 8, as: Double.self)
            }
        default: return nil
        }
        return 0
    }

    /// Converts in blocks through a `Float` buffer: widening to `Float` is exact for every
    /// format but F64, which is narrowed with round-to-odd so that the one rounding that
    /// follows is still correct.
    private static func convertThroughFloat(
        _ source: UnsafeRawBufferPointer, from: FloatFormat, to: FloatFormat,
        into destination: UnsafeMutableRawBufferPointer, count: Int, kernel: ConversionKernel
    ) -> Int {
        let blockSize = 2048
        var overflows = 0
        // Sound: `length` ≤ the scratch's `blockSize`, and each slice covers elements
        // `start..<start + length` ≤ `count`, which both buffers hold.
        unsafe withUnsafeTemporaryAllocation(of: Float.self, capacity: blockSize) { scratch in
            var start = 0
            while start < count {
                let length = Swift.min(blockSize, count - start)
                let block = unsafe UnsafeMutableBufferPointer(rebasing: scratch[0..<length])
                let input = unsafe UnsafeRawBufferPointer(rebasing: source[start * from.byteWidth..<(start + length) * from.byteWidth])
                let output = unsafe UnsafeMutableRawBufferPointer(
                    rebasing: destination[start * to.byteWidth..<(start + length) * to.byteWidth])
                unsafe from.widen(input, intoFloats: block, kernel: kernel)
                unsafe overflows &+= convert(UnsafeRawBufferPointer(block), from: .f32, to: to, into: output, kernel: kernel)
                start += length
            }
        }
        return overflows
    }

    /// Widens `bytes` of this format to `Float`: exactly, or for F64 rounding to odd.
    private func widen(_ bytes: UnsafeRawBufferPointer, intoFloats floats: UnsafeMutableBufferPointer<Float>,
                       kernel: ConversionKernel) {
        let output = UnsafeMutableRawBufferPointer(floats)
        // Sound: `bytes` holds `floats.count` elements of this format (convertThroughFloat's
        // slices); the 8-bit tables have 256 entries, one per byte value.
        switch self {
        case .f64:
            for index in floats.indices {
                unsafe floats[index] = unsafe Float(roundingToOdd: bytes.loadUnaligned(fromByteOffset: index * 8, as: Double.self))
            }
        case .f32: unsafe output.copyMemory(from: bytes)
        case .f16: unsafe weights_f16_to_f32(bytes.baseAddress!, output.baseAddress!, floats.count, kernel.code)
        case .bf16: unsafe weights_bf16_to_f32(bytes.baseAddress!, output.baseAddress!, floats.count, kernel.code)
        case .f8E4M3, .f8E5M2:
            let table = self == .f8E4M3 ? Float8.e4m3Table : Float8.e5m2Table
            for index in floats.indices { unsafe floats[index] = unsafe table[Int(bytes[index])] }
        }
    }

    private static func narrowDoubles(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                                      count: Int) -> Int {
        var overflows = 0
        // Sound: `count` doubles in `source` and floats in `destination` (convert's checks).
        for index in 0..<count {
            let value = unsafe source.loadUnaligned(fromByteOffset: index * 8, as: Double.self)
            let result = Float(value)
            if result.isInfinite, value.isFinite { overflows += 1 }
            unsafe destination.storeBytes(of: result, toByteOffset: index * 4, as: Float.self)
        }
        return overflows
    }
}

extension Float {
    /// `value` rounded to odd: truncated toward zero, with the last bit set when inexact.
    ///
    /// Rounding to odd and then to nearest, into a format at least two bits narrower, equals
    /// rounding to nearest directly (Boldo and Melquiond, "When double rounding is odd",
    /// 2005). Every finite value too large for `Float` becomes `±greatestFiniteMagnitude`,
    /// which still rounds to infinity in F16 and BF16 and is still finite, so it counts as an
    /// overflow there.
    init(roundingToOdd value: Double) {
        let nearest = Float(value)
        if value.isNaN || value.isInfinite {
            self = nearest
            return
        }
        if nearest.isInfinite {
            self = value > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude
            return
        }
        if Double(nearest) == value {
            self = nearest
            return
        }
        let truncated = Double(nearest).magnitude > value.magnitude
            ? (nearest > 0 ? nearest.nextDown : nearest.nextUp)
            : nearest
        // `truncated` may be zero; it is then -0 for a negative `value`, so the sign survives.
        self = Float(bitPattern: truncated.bitPattern | 1)
    }
}

extension BFloat16 {
    /// The nearest `BFloat16` to `value`, rounded once (ties to even).
    ///
    /// Going through `Float` by nearest would round twice; rounding to odd first does not.
    public init(_ value: Double) {
        self.init(Float(roundingToOdd: value))
    }
}

extension Float16 {
    /// The nearest `Float16` to `value`, rounded once (ties to even), with NaN handled as the
    /// rest of ``FloatFormat`` handles it.
    ///
    /// - Complexity: O(1).
    public init(roundingOnce value: Double) {
        var bits: UInt16 = 0
        var narrow = Float(roundingToOdd: value)
        // Sound: converts one value between two locals, inside the closures.
        unsafe withUnsafeMutableBytes(of: &bits) { output in
            unsafe withUnsafeBytes(of: &narrow) { input in
                _ = unsafe weights_f32_to_f16(input.baseAddress!, output.baseAddress!, 1, WEIGHTS_KERNEL_PORTABLE)
            }
        }
        self.init(bitPattern: bits)
    }
}

/// Decoding of 8-bit float formats.
package enum Float8 {
    /// F8_E4M3 in its "FN" form: bias 7, no infinities, S.1111.111 is NaN.
    static func e4m3ToFloat(_ byte: UInt8) -> Float {
        let sign: Float = byte & 0x80 != 0 ? -1 : 1
        let exponent = Int((byte >> 3) & 0xF)
        let mantissa = Float(byte & 0x7)
        if exponent == 0xF && byte & 0x7 == 0x7 { return Float(bitPattern: UInt32(byte & 0x80) << 24 | 0x7FC0_0000) }
        if exponent == 0 { return sign * mantissa * 0x1p-9 }
        return sign * (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }

    /// F8_E5M2 is the top byte of an IEEE binary16: bias 15, with infinities and NaNs.
    static func e5m2ToFloat(_ byte: UInt8) -> Float {
        var half = UInt16(byte) << 8
        var result: Float = 0
        unsafe weights_f16_to_f32(&half, &result, 1, WEIGHTS_KERNEL_PORTABLE)  // Sound: one value, between two locals.
        return result
    }

    static let e4m3Table: [Float] = (0...255).map { e4m3ToFloat(UInt8($0)) }
    static let e5m2Table: [Float] = (0...255).map { e5m2ToFloat(UInt8($0)) }
}
