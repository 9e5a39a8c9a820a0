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
