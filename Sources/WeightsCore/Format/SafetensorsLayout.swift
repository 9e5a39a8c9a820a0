/// Where a canonical writer puts each tensor, and the header that describes it.
///
/// The layout is the reference writer's: tensors ordered by dtype (descending in ``DType``'s
/// order, so 8-byte types first and `BOOL` last), then by name compared as UTF-8 bytes; data
/// back to back from offset 0. Since element sizes only shrink along that order, every tensor
/// starts at a multiple of its element size.
///
/// ```swift
/// let layout = try SafetensorsLayout([
///     TensorDescriptor(name: "w", dtype: .f16, shape: [2, 2]),
/// ], metadata: ["format": "pt"])
/// layout.headerBytes.count   // 96: 8 + 87 bytes of JSON + 1 space
/// layout.tensors[0].dataOffsets   // 0..<8
/// ```
public struct SafetensorsLayout: Sendable, Hashable {
    /// The header: metadata, and tensors in data order with their offsets.
    public let header: SafetensorsHeader
    /// The bytes before the data section: length prefix, JSON and padding.
    public let headerBytes: [UInt8]

    /// Lays out `descriptors` canonically.
    ///
    /// - Throws: `duplicateTensorName`, `reservedTensorName`, `invalidArgument` (negative
    ///   dimension), `validationOverflow`, `misalignedSlice`, `headerTooLarge`.
    /// - Complexity: O(*n* log *n*) for *n* tensors.
    public init(_ descriptors: [TensorDescriptor], metadata: [String: String]?) throws {
        try Self.checkNames(descriptors)
        let ordered = descriptors.sorted(by: Self.canonicalOrder)
        var offset = 0
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(ordered.count)
        for descriptor in ordered {
            let size = try descriptor.byteCount()
            let (end, overflow) = offset.addingReportingOverflow(size)
            guard !overflow else {
                throw WeightsError(.validationOverflow, "tensors add up to more than Int.max bytes at tensor '\(descriptor.name)'", tensor: descriptor.name)
            }
            tensors.append(TensorInfo(name: descriptor.name, dtype: descriptor.dtype, shape: descriptor.shape,
                                      dataOffsets: offset..<end))
            offset = end
        }
        header = SafetensorsHeader(metadata: metadata, tensors: tensors)
        headerBytes = try header.encoded()
    }

    /// Tensors in data order, with their offsets.
    public var tensors: [TensorInfo] { header.tensors }
    /// The size of the whole file.
    public var fileSize: Int { headerBytes.count + header.dataSize }

    /// The writer's order: dtype descending, then name by UTF-8 bytes.
    public static func canonicalOrder(_ a: TensorDescriptor, _ b: TensorDescriptor) -> Bool {
        if a.dtype != b.dtype { return a.dtype.rank > b.dtype.rank }
        return utf8Precedes(a.name, b.name)
    }

    private static func checkNames(_ descriptors: [TensorDescriptor]) throws {
        var seen = Set<UTF8Key>(minimumCapacity: descriptors.count)
        for descriptor in descriptors {
            guard descriptor.name != SafetensorsHeader.metadataKey else {
                throw WeightsError(.reservedTensorName,
                    "a tensor cannot be named '\(SafetensorsHeader.metadataKey)': the header reserves that key",
                    tensor: descriptor.name)
            }
            guard seen.insert(UTF8Key(descriptor.name)).inserted else {
                throw WeightsError(.duplicateTensorName, "tensor '\(descriptor.name)' is given twice", tensor: descriptor.name)
            }
        }
    }
}
