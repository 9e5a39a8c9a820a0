/// A tensor's entry in a safetensors header: its name, dtype, shape and where its bytes are.
///
/// `dataOffsets` counts from the start of the data section, which follows the header.
public struct TensorInfo: Sendable, Hashable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    /// The tensor's bytes, relative to the start of the data section.
    public var dataOffsets: Range<Int>

    public init(name: String, dtype: DType, shape: [Int], dataOffsets: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
    }

    /// The number of elements: the product of the shape, 1 for a scalar.
    public var elementCount: Int { shape.reduce(1, *) }

    /// The number of data bytes.
    public var byteCount: Int { dataOffsets.count }
}

/// A tensor to be written: everything but where its bytes go.
public struct TensorDescriptor: Sendable, Hashable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]

    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// The number of bytes a tensor of this dtype and shape takes.
    ///
    /// - Throws: `validationOverflow` when the element or bit count does not fit in 64 bits,
    ///   `misalignedSlice` when packed elements do not fill whole bytes, `invalidArgument` for
    ///   a negative dimension.
    public func byteCount() throws -> Int {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw WeightsError(.invalidArgument, "tensor '\(name)' has a negative dimension in \(shape)", tensor: name)
        }
        return try dtype.byteCount(forShape: shape.lazy.map { UInt64($0) }, tensor: name)
    }
}

extension DType {
    /// The byte size of a tensor of this dtype with `shape`, checked the way the reference
    /// reader checks it: the running product of the dimensions, then the bit count, must fit in
    /// 64 bits, and the bit count must be a whole number of bytes.
    func byteCount(forShape shape: some Sequence<UInt64>, tensor: String) throws -> Int {
        var elements: UInt64 = 1
        for dimension in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw Self.overflow(tensor, shape) }
            elements = product
        }
        let (bits, overflow) = elements.multipliedReportingOverflow(by: UInt64(bitWidth))
        guard !overflow else { throw Self.overflow(tensor, shape) }
        guard bits % 8 == 0 else {
            throw WeightsError(.misalignedSlice,
                "tensor '\(tensor)' has \(elements) \(rawValue) elements, which do not fill whole bytes",
                tensor: tensor)
        }
        guard let bytes = Int(exactly: bits / 8) else { throw Self.overflow(tensor, shape) }
        return bytes
    }

    private static func overflow(_ tensor: String, _ shape: some Sequence<UInt64>) -> WeightsError {
        let dims = shape.map(String.init).joined(separator: ", ")
        return WeightsError(.validationOverflow, "tensor '\(tensor)' shape [\(dims)] overflows 64 bits", tensor: tensor)
    }
}

/// Orders names by their UTF-8 bytes, as the format does.
///
/// Swift's `<` on `String` compares by canonical equivalence, so precomposed "é" and "e" plus
/// U+0301 compare equal; in a safetensors file they are two different tensors.
@inlinable
package func utf8Precedes(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}

/// A dictionary key that compares strings by their UTF-8 bytes rather than by canonical
/// equivalence, so that two differently normalized names stay two keys.
package struct UTF8Key: Hashable, Sendable {
    package let string: String

    package init(_ string: String) { self.string = string }

    package static func == (lhs: UTF8Key, rhs: UTF8Key) -> Bool {
        lhs.string.utf8.count == rhs.string.utf8.count && utf8Compare(lhs.string, rhs.string) == 0
    }

    package func hash(into hasher: inout Hasher) {
        let utf8 = string.utf8
        let hashed: Void? = utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil { for byte in utf8 { hasher.combine(byte) } }
    }
}
