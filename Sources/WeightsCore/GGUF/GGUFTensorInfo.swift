/// A tensor's entry in a GGUF file: name, dimensions, ggml type and where its blocks are.
///
/// GGUF lists dimensions fastest-varying first: a row-major matrix of `rows × columns` has
/// ``dimensions`` `[columns, rows]` and ``shape`` `[rows, columns]`. A row, the unit a block
/// format quantizes, is `dimensions[0]` elements.
public struct GGUFTensorInfo: Sendable, Hashable {
    public var name: String
    /// The dimensions as the file stores them, fastest-varying first (ggml's `ne`).
    public var dimensions: [Int]
    /// The element encoding.
    public var type: GGMLType
    /// Where the tensor's bytes begin, relative to the start of the data section.
    public var offset: Int
    /// The number of bytes: `elementCount / type.blockSize × type.typeSize`.
    public var byteCount: Int
    /// The number of elements, the product of the dimensions.
    public var elementCount: Int

    public init(name: String, dimensions: [Int], type: GGMLType, offset: Int, byteCount: Int, elementCount: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
        self.elementCount = elementCount
    }

    /// The dimensions slowest-varying first (row-major, as safetensors and NumPy say them):
    /// ``dimensions`` reversed.
    public var shape: [Int] { dimensions.reversed() }

    /// The elements of one row: `dimensions[0]`.
    public var rowLength: Int { dimensions.first ?? 1 }

    /// The tensor's bytes relative to the data section.
    public var byteRange: Range<Int> { offset..<offset + byteCount }
}
