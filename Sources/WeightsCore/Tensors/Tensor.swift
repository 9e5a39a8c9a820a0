/// A read-only view of one tensor's bytes, with its name, dtype and shape.
///
/// A tensor from a ``SafetensorsFile`` points into the file's memory mapping: nothing is copied
/// until you ask for a copy. A tensor from a compressed file owns its decompressed bytes. Both
/// keep their storage alive, so a tensor outlives the file object it came from.
///
/// Typed access checks that the element type matches the dtype. Files whose header length is
/// not a multiple of 8 can leave tensor data at a misaligned address; typed access then works
/// on an aligned copy instead of trapping.
///
/// ```swift
/// let file = try SafetensorsFile(path: "model.safetensors")
/// let weight = try file.tensor(named: "embeddings.word_embeddings.weight")
/// let norm = try weight.withElements(of: Float.self) { $0.reduce(0) { $0 + $1 * $1 } }
/// let values: [Float] = try weight.floats()    // a copy, widened from any float dtype
/// ```
@safe  // Safety: holds the storage its byte pointer points into, so the bytes live as long as the value.
public struct Tensor: @unchecked Sendable {
    /// The header entry: name, dtype, shape and offsets in the data section.
    public let info: TensorInfo
    /// Keeps `bytes` valid.
    public let storage: ByteStorage
    /// The tensor's raw little-endian bytes.
    let bytes: UnsafeRawBufferPointer

    /// A tensor over `bytes`, which `storage` keeps alive.
    ///
    /// - Precondition: `bytes.count` equals the byte count `info` declares, and that is the
    ///   size of `info`'s dtype and shape: the typed accessors read the shape's elements from
    ///   the bytes, so a mismatch would read past them (it traps instead).
    public init(info: TensorInfo, storage: ByteStorage, bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == info.byteCount, "tensor bytes do not match its header entry")
        let shapeBytes = try? info.dtype.byteCount(forShape: info.shape.lazy.map { UInt64(truncatingIfNeeded: $0) }, tensor: info.name)
        precondition(shapeBytes == info.byteCount, "tensor '\(info.name)': its offsets do not span its dtype and shape")
        self.info = info
        self.storage = storage
        unsafe self.bytes = unsafe bytes  // Safety: the caller hands bytes that `storage` keeps alive (marked `unsafe` there).
    }

    public var name: String { info.name }
    public var dtype: DType { info.dtype }
    public var shape: [Int] { info.shape }
    public var elementCount: Int { info.elementCount }
    public var byteCount: Int { info.byteCount }

    /// Whether the bytes sit at an address aligned for `dtype`'s elements.
    public var isAligned: Bool {
        // Safety: reads the address only.
        unsafe Int(bitPattern: bytes.baseAddress) % dtype.alignment == 0
    }

    /// Calls `body` with the raw bytes. O(1): no copy.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        unsafe try body(bytes)  // Safety: `storage`, held by `self`, keeps `bytes` valid for the call.
    }

    /// Calls `body` with the raw bytes as a `RawSpan`. O(1): no copy.
    public func withBytes<R, E: Error>(_ body: (RawSpan) throws(E) -> R) throws(E) -> R {
        unsafe try body(RawSpan(_unsafeBytes: bytes))  // Safety: as above; the span cannot escape `body`.
    }

    /// The raw bytes as a `RawSpan` that borrows the tensor (and so its storage): valid while
    /// the tensor is, which the compiler checks. O(1): no copy.
    ///
    /// ```swift
    /// let tensor = try file.tensor(named: "embeddings.word_embeddings.weight")
    /// tensor.span.byteCount == tensor.byteCount   // true
    /// ```
    public var span: RawSpan {
        @_lifetime(borrow self)
        get {
            // Safety: `bytes` lies in `storage`, which the tensor holds; the span's lifetime is
            // that of a borrow of the tensor.
            unsafe _overrideLifetime(RawSpan(_unsafeBytes: bytes), borrowing: self)
        }
    }

    /// Calls `body` with the elements as `T`, which must match the dtype.
    ///
    /// - Complexity: O(1) when the data is aligned for `T`; otherwise O(*n*) for a copy.
    ///   `Bool` views also check, in O(*n*), that every byte is 0 or 1.
    /// - Throws: `dtypeMismatch` when `T.dtype` is not the tensor's dtype; `invalidArgument`
    ///   when a `BOOL` tensor holds a byte other than 0 or 1.
    public func withElements<T: TensorElement, R>(
        of type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) throws -> R {
        guard T.dtype == dtype else {
            throw WeightsError(.dtypeMismatch, "tensor '\(name)' is \(dtype), not \(T.dtype)", tensor: name)
        }
        // Safety: `bytes` is valid while `self` is and holds `count` whole elements of `T`'s
        // dtype (init checks the size); every bit pattern is a valid `T` (BOOL's bytes were just
        // checked to be 0 or 1); the typed view is made only at `T`'s alignment, else a copy is.
        if T.self == Bool.self, let bad = unsafe bytes.firstIndex(where: { $0 > 1 }) {
            throw WeightsError(.invalidData, unsafe "BOOL tensor '\(name)' holds byte \(bytes[bad]) at element \(bad)",
                               tensor: name)
        }
        let count = unsafe bytes.count / MemoryLayout<T>.stride
        if unsafe Int(bitPattern: bytes.baseAddress) % MemoryLayout<T>.alignment == 0 {
            return unsafe try body(UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: T.self), count: count))
        }
        let copy = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
        defer { unsafe copy.deallocate() }
        unsafe UnsafeMutableRawBufferPointer(copy).copyMemory(from: bytes)
        return unsafe try body(UnsafeBufferPointer(copy))
    }

    /// Calls `body` with the elements as a `Span<T>`; the same rules as
    /// ``withElements(of:_:)``.
    public func withSpan<T: TensorElement, R>(of type: T.Type, _ body: (Span<T>) throws -> R) throws -> R {
        // Safety: the buffer is valid for the closure, and the span cannot escape it.
        unsafe try withElements(of: type) { buffer in unsafe try body(Span(_unsafeElements: buffer)) }
    }

    /// A copy of the elements as `T`, which must match the dtype.
    public func elements<T: TensorElement>(of type: T.Type) throws -> [T] {
        unsafe try withElements(of: type) { unsafe Array($0) }  // Safety: copies inside the closure.
    }

    /// Passes `advice` to the kernel for this tensor's bytes when they are mapped from a file
    /// (see ``ByteStorage/advise(_:range:)``); does nothing for owned bytes.
    public func advise(_ advice: ByteStorage.Advice) {
        // Safety: address arithmetic only; `bytes` lies in `storage`, so the range is inside it.
        guard let base = unsafe bytes.baseAddress, let storageBase = unsafe storage.bytes.baseAddress else { return }
        let start = unsafe base - storageBase
        unsafe storage.advise(advice, range: start..<start + bytes.count)
    }

    /// A copy of the raw bytes.
    public func copyBytes() -> [UInt8] { unsafe Array(bytes) }  // Safety: `bytes` is valid while `self` is.

    /// Checks that the file the bytes are mapped from has not changed since it was opened
    /// (see ``ByteStorage/checkUnchanged()``); owned bytes always pass.
    ///
    /// - Throws: `fileChanged` naming the file and this tensor.
    public func checkUnchanged() throws {
        do { try storage.checkUnchanged() } catch let error as WeightsError { throw error.in(tensor: name) }
    }

    /// The elements of any real floating dtype (F64, F32, F16, BF16, F8_E4M3, F8_E5M2),
    /// widened or rounded to `Float`.
    ///
    /// - Throws: `dtypeMismatch` for integer, boolean, complex and packed dtypes.
    public func floats() throws -> [Float] {
        guard let source = FloatFormat(dtype) else {
            throw WeightsError(.dtypeMismatch, "tensor '\(name)' is \(dtype), not a floating dtype Float can hold",
                               tensor: name)
        }
        // Safety: `bytes` holds `elementCount` elements of `source` (init checks it), and the
        // conversion writes exactly `elementCount` floats into the new array's buffer.
        return unsafe [Float](unsafeUninitializedCapacity: elementCount) { buffer, count in
            unsafe FloatFormat.convert(bytes, from: source, to: .f32, into: UnsafeMutableRawBufferPointer(buffer))
            count = elementCount
        }
    }
}

extension Tensor {
    /// A tensor that owns a copy of `bytes`.
    ///
    /// - Throws: `byteCountMismatch` when `bytes` is not the size `dtype` and `shape` need, and
    ///   the errors of ``TensorDescriptor/byteCount()``.
    public init(name: String, dtype: DType, shape: [Int], bytes: some Collection<UInt8>) throws {
        let expected = try TensorDescriptor(name: name, dtype: dtype, shape: shape).byteCount()
        guard bytes.count == expected else {
            throw WeightsError(.byteCountMismatch,
                "tensor '\(name)' has \(bytes.count) bytes, but \(dtype) \(shape) needs \(expected)", tensor: name)
        }
        let storage = ByteStorage.copy(of: bytes)
        // Safety: the storage owns exactly these bytes, and the tensor holds the storage.
        unsafe self.init(info: TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: 0..<expected),
                  storage: storage, bytes: storage.bytes)
    }

    /// A tensor that owns a copy of `elements`.
    ///
    /// ```swift
    /// let w = try Tensor(name: "w", shape: [2, 2], elements: [1, 2, 3, 4] as [Float16])
    /// ```
    public init<T: TensorElement>(name: String, shape: [Int], elements: [T]) throws {
        let bytes = unsafe elements.withUnsafeBytes { unsafe Array($0) }  // Safety: copies inside the closure.
        try self.init(name: name, dtype: T.dtype, shape: shape, bytes: bytes)
    }

    /// The name, dtype and shape.
    public var descriptor: TensorDescriptor { TensorDescriptor(name: name, dtype: dtype, shape: shape) }
}
