/// The floating-point formats Weights converts between, and the element-wise conversion.
///
/// Every conversion rounds once, to nearest with ties to even, from the source value; keeps
/// NaN as NaN with its sign; produces subnormals; and overflows to infinity.
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

    /// Converts `source`, holding elements of `from`, into `destination` as `to`.
    ///
    /// Neither buffer needs to be aligned. `destination` must hold exactly as many elements.
    ///
    /// - Returns: How many finite source values became infinite (overflow).
    /// - Complexity: O(*n*).
    @discardableResult
    public static func convert(
        _ source: UnsafeRawBufferPointer, from: FloatFormat, to: FloatFormat,
        into destination: UnsafeMutableRawBufferPointer
    ) -> Int {
        precondition(to.isWritable, "cannot write \(to)")
        let count = source.count / from.byteWidth
        precondition(destination.count == count * to.byteWidth, "destination size does not match")
        if from == to {
            destination.copyMemory(from: source)
            return 0
        }
        var overflows = 0
        for index in 0..<count {
            let value = from.load(source, at: index)
            overflows &+= to.store(value, into: destination, at: index)
        }
        return overflows
    }

    /// The element at `index` as a `Double` (exact: every format here fits in a Double).
    @inline(__always)
    func load(_ bytes: UnsafeRawBufferPointer, at index: Int) -> Double {
        switch self {
        case .f64: bytes.loadUnaligned(fromByteOffset: index * 8, as: Double.self)
        case .f32: Double(bytes.loadUnaligned(fromByteOffset: index * 4, as: Float.self))
        case .f16: Double(bytes.loadUnaligned(fromByteOffset: index * 2, as: Float16.self))
        case .bf16: Double(BFloat16(bitPattern: bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)).floatValue)
        case .f8E4M3: Double(Float8.e4m3ToFloat(bytes[index]))
        case .f8E5M2: Double(Float(Float16(bitPattern: UInt16(bytes[index]) << 8)))
        }
    }

    /// Stores `value` rounded to this format; returns 1 when a finite value overflowed.
    @inline(__always)
    func store(_ value: Double, into bytes: UnsafeMutableRawBufferPointer, at index: Int) -> Int {
        switch self {
        case .f64:
            bytes.storeBytes(of: value, toByteOffset: index * 8, as: Double.self)
            return 0
        case .f32:
            let result = Float(value)
            bytes.storeBytes(of: result, toByteOffset: index * 4, as: Float.self)
            return result.isInfinite && value.isFinite ? 1 : 0
        case .f16:
            let result = Float16(value)
            bytes.storeBytes(of: result, toByteOffset: index * 2, as: Float16.self)
            return result.isInfinite && value.isFinite ? 1 : 0
        case .bf16:
            let result = BFloat16(value)
            bytes.storeBytes(of: result.bitPattern, toByteOffset: index * 2, as: UInt16.self)
            return result.floatValue.isInfinite && value.isFinite ? 1 : 0
        case .f8E4M3, .f8E5M2:
            preconditionFailure("8-bit float formats are read-only")
        }
    }
}

extension BFloat16 {
    /// The nearest `BFloat16` to `value`, rounded once (ties to even).
    ///
    /// Going through `Float` would round twice. Instead the value is first narrowed to `Float`
    /// with round-to-odd, which keeps enough information for the second rounding to be exact.
    public init(_ value: Double) {
        var narrow = Float(value)
        if value.isNaN {
            self.init(narrow)
            return
        }
        if narrow.isFinite, Double(narrow).magnitude > value.magnitude {
            narrow = narrow > 0 ? narrow.nextDown : narrow.nextUp
        }
        if narrow.isInfinite, value.isFinite {
            narrow = value > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude
        }
        if Double(narrow) != value, narrow.isFinite {
            narrow = Float(bitPattern: narrow.bitPattern | 1)
        }
        self.init(narrow)
    }
}

/// Decoding of 8-bit float formats.
enum Float8 {
    /// F8_E4M3 in its "FN" form: bias 7, no infinities, S.1111.111 is NaN.
    static func e4m3ToFloat(_ byte: UInt8) -> Float {
        let sign: Float = byte & 0x80 != 0 ? -1 : 1
        let exponent = Int((byte >> 3) & 0xF)
        let mantissa = Float(byte & 0x7)
        if exponent == 0xF && byte & 0x7 == 0x7 { return Float(bitPattern: UInt32(byte & 0x80) << 24 | 0x7FC0_0000) }
        if exponent == 0 { return sign * mantissa * 0x1p-9 }
        return sign * (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }
}
