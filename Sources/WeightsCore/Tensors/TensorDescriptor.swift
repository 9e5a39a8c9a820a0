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
