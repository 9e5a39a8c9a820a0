/// A zero-copy view of one GGUF tensor's raw blocks in the file's mapping.
///
/// The bytes are ggml blocks, not elements: read them with ``withUnsafeBytes(_:)`` or decode
/// them to `Float` with ``dequantized(blocks:kernel:)``. The view keeps the mapping alive.
///
/// ```swift
/// let file = try GGUFFile(path: "gemma-3-270m-Q4_K_M.gguf")
/// let tensor = try file.tensor(named: "blk.0.ffn_down.weight")   // Q6_K, 2048 × 640
/// let firstRow = try tensor.dequantized(blocks: 0..<8)           // 2048 floats
/// ```
@safe  // Safety: holds the storage its byte pointer points into, so the bytes live as long as the value.
public struct GGUFTensor: @unchecked Sendable {
    /// The tensor's entry: name, dimensions, type, offset.
    public let info: GGUFTensorInfo
    /// Keeps `bytes` valid.
    public let storage: ByteStorage
    /// The path of the file the tensor is in, for errors.
    public let path: String
    let bytes: UnsafeRawBufferPointer

    init(info: GGUFTensorInfo, storage: ByteStorage, bytes: UnsafeRawBufferPointer, path: String) {
        self.info = info
        self.storage = storage
        unsafe self.bytes = unsafe bytes  // Safety: `bytes` lies in `storage` (GGUFFile.tensor checks it), held here.
        self.path = path
    }

    public var name: String { info.name }
    public var type: GGMLType { info.type }
    /// Dimensions fastest-varying first, as the file stores them.
    public var dimensions: [Int] { info.dimensions }
    /// Dimensions slowest-varying first (row-major).
    public var shape: [Int] { info.shape }
    public var elementCount: Int { info.elementCount }
    public var byteCount: Int { info.byteCount }
    /// The number of blocks: `elementCount / type.blockSize`.
    public var blockCount: Int { info.elementCount / info.type.blockSize }

    /// Calls `body` with the raw blocks. O(1): no copy.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        unsafe try body(bytes)  // Safety: `storage`, held by `self`, keeps `bytes` valid for the call.
    }

    /// Calls `body` with the raw blocks as a `RawSpan`. O(1): no copy.
    public func withBytes<R, E: Error>(_ body: (RawSpan) throws(E) -> R) throws(E) -> R {
        unsafe try body(RawSpan(_unsafeBytes: bytes))  // Safety: as above; the span cannot escape `body`.
    }

    /// The raw blocks as a `RawSpan` that borrows the tensor (and so the file's mapping):
    /// valid while the tensor is, which the compiler checks. O(1): no copy.
    public var span: RawSpan {
        @_lifetime(borrow self)
        get {
            // Safety: `bytes` lies in `storage`, which the tensor holds; the span's lifetime is
            // that of a borrow of the tensor.
            unsafe _overrideLifetime(RawSpan(_unsafeBytes: bytes), borrowing: self)
        }
    }

    /// A copy of the raw blocks.
    public func copyBytes() -> [UInt8] { unsafe Array(bytes) }  // Safety: `bytes` is valid while `self` is.

    /// The elements of `blocks` (all of them by default) decoded to `Float`, in storage order
    /// (fastest-varying dimension first), with the arithmetic of gguf-py's
    /// `gguf.quants.dequantize` (see Spec/gguf.md).
    ///
    /// `kernel` `.best` decodes the types ``GGMLType/dequantizesWithSIMD`` names with AVX2;
    /// `.portable` gives the same bits with plain loops, for tests and comparisons.
    ///
    /// - Complexity: O(*n*) in the elements decoded, over all cores for 256 Ki elements or
    ///   more; one allocation, for the result.
    /// - Throws: `unsupportedFormat` for a type ``GGMLType/canDequantize`` says is not
    ///   decoded; `invalidArgument` when `blocks` is not inside ``blockCount``.
    public func dequantized(blocks: Range<Int>? = nil, kernel: ConversionKernel = .best) throws -> [Float] {
        let range = blocks ?? 0..<blockCount
        guard range.lowerBound >= 0, range.upperBound <= blockCount else {
            throw WeightsError(.invalidArgument, "blocks \(range) are outside the \(blockCount) of tensor '\(name)'",
                               file: path, tensor: name)
        }
        let size = type.typeSize
        // Safety: `range` was checked to lie in `blockCount`, so the slice lies in `bytes`; the
        // dequantizer writes exactly `count` floats into the buffer it is given.
        let source = unsafe UnsafeRawBufferPointer(rebasing: bytes[range.lowerBound * size..<range.upperBound * size])
        let count = range.count * type.blockSize
        return unsafe try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            unsafe try GGMLDequantizer.dequantize(type, source, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]),
                                                  kernel: kernel, file: path, tensor: name)
            initialized = count
        }
    }

    /// Decodes every element into `output`, which must hold exactly ``elementCount`` floats,
    /// on up to `threads` threads (all cores by default; tensors under 256 Ki elements use one).
    ///
    /// - Throws: as ``dequantized(blocks:kernel:)``, and `invalidArgument` for a buffer of
    ///   another size.
    public func dequantize(into output: UnsafeMutableBufferPointer<Float>, threads: Int? = nil,
                           kernel: ConversionKernel = .best) throws {
        guard output.count == elementCount else {
            throw WeightsError(.invalidArgument, "tensor '\(name)' has \(elementCount) elements, not \(output.count)",
                               file: path, tensor: name)
        }
        // Safety: `bytes` holds the tensor's blocks and `output` was checked to hold its elements.
        unsafe try GGMLDequantizer.dequantize(type, bytes, into: output, threads: threads, kernel: kernel, file: path, tensor: name)
    }
}
