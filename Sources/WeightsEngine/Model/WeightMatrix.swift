import WeightsCore

/// A `[rows, columns]` weight matrix in F32, F16 or per-row INT8, as the encoder keeps it.
///
/// F32 and F16 matrices may point straight into a mapped file (zero-copy); converted ones own
/// their bytes. Either way the matrix holds its ``Tensor``s, which keep the bytes alive.
/// Products always run in `Float`: ``MatrixProduct`` converts F16 and INT8 values while it
/// packs them, and the BLAS fallback widens them into a scratch buffer just before use, so
/// they stay small in memory.
package struct WeightMatrix: Sendable {
    enum Storage: Sendable {
        case f32(Tensor)
        case f16(Tensor)
        /// I8 values and one F32 scale per row; a value is `Float(q) * scale`.
        case int8(values: Tensor, scales: Tensor)
    }

    let storage: Storage
    package let rows: Int
    package let columns: Int

    /// The format the values are kept in.
    package var precision: WeightPrecision {
        switch storage {
        case .f32: .f32
        case .f16: .f16
        case .int8: .int8
        }
    }

    /// Bytes the values occupy (scales included).
    package var byteCount: Int {
        switch storage {
        case .f32(let tensor), .f16(let tensor): tensor.byteCount
        case .int8(let values, let scales): values.byteCount + scales.byteCount
        }
    }

    /// A matrix over `tensor`, which must be `[rows, columns]`, kept in `precision`
    /// (`nil`: as stored, widening formats other than F32 and F16 to F32). A converted matrix
    /// owns its values, and the mapped pages it was converted from leave the process's
    /// resident memory (`dontNeed`).
    ///
    /// - Throws: `invalidArgument` for another shape; `dtypeMismatch` for a non-float tensor;
    ///   the quantizer's `invalidArgument` for a row holding NaN or infinity.
    package init(_ tensor: Tensor, precision: WeightPrecision? = nil) throws {
        guard tensor.shape.count == 2 else {
            throw WeightsError(.invalidArgument,
                "tensor '\(tensor.name)' has shape \(tensor.shape), expected a matrix", tensor: tensor.name)
        }
        rows = tensor.shape[0]
        columns = tensor.shape[1]
        switch (tensor.dtype, precision) {
        case (.f32, nil), (.f32, .f32?):
            storage = .f32(Self.aligned(tensor))
        case (.f16, nil), (.f16, .f16?):
            storage = .f16(Self.aligned(tensor))
        case (_, .int8?):
            let (values, scales) = try Int8Quantization.quantize(tensor)
            storage = .int8(values: values, scales: scales)
            tensor.advise(.dontNeed)
        case (_, .f16?):
            storage = .f16(try Self.converted(tensor, to: .f16))
            tensor.advise(.dontNeed)
        default:
            storage = .f32(try Self.converted(tensor, to: .f32))
            tensor.advise(.dontNeed)
        }
    }

    /// A matrix over quantized `values` (I8, `[rows, columns]`) and their `scales`
    /// (F32, `[rows, 1]`).
    ///
    /// - Throws: the errors of `Int8Quantization.checkPair`.
    package init(quantized values: Tensor, scales: Tensor) throws {
        try Int8Quantization.checkPair(values: values.info, scales: scales.info)
        guard values.shape.count == 2 else {
            throw WeightsError(.invalidArgument,
                "tensor '\(values.name)' has shape \(values.shape), expected a matrix", tensor: values.name)
        }
        rows = values.shape[0]
        columns = values.shape[1]
        storage = .int8(values: Self.aligned(values), scales: Self.aligned(scales))
    }

    /// Calls `body` with rows `rows` of the matrix as a ``MatrixProduct`` operand, in their
    /// stored format (row stride `columns`).
    ///
    /// - Complexity: O(1).
    func withOperand<R>(rows: Range<Int>, _ body: (MatrixProduct.Operand) -> R) -> R {
        switch storage {
        case .f32(let tensor):
            return unsafe tensor.withUnsafeBytes {
                unsafe body(.f32($0.baseAddress!.assumingMemoryBound(to: Float.self) + rows.lowerBound * columns))
            }
        case .f16(let tensor):
            return unsafe tensor.withUnsafeBytes {
                unsafe body(.f16($0.baseAddress!.assumingMemoryBound(to: Float16.self) + rows.lowerBound * columns))
            }
        case .int8(let values, let scales):
            return unsafe values.withUnsafeBytes { q in
                unsafe scales.withUnsafeBytes { s in
                    unsafe body(.int8(q.baseAddress!.assumingMemoryBound(to: Int8.self) + rows.lowerBound * columns,
                               scales: s.baseAddress!.assumingMemoryBound(to: Float.self) + rows.lowerBound))
                }
            }
        }
    }

    /// Calls `body` with the matrix as row-major `Float`s: the mapped values themselves for
    /// F32, else a widened copy in `scratch`, which must hold `rows * columns` floats.
    ///
    /// - Complexity: O(1) for F32; O(rows × columns) otherwise.
    func withFloats<R>(scratch: UnsafeMutablePointer<Float>, _ body: (UnsafePointer<Float>) -> R) -> R {
        switch storage {
        case .f32(let tensor):
            return unsafe tensor.withUnsafeBytes { unsafe body($0.baseAddress!.assumingMemoryBound(to: Float.self)) }
        case .f16(let tensor):
            unsafe tensor.withUnsafeBytes { bytes in
                unsafe Conversion.widen(bytes.baseAddress!.assumingMemoryBound(to: Float16.self),
                                 into: scratch, count: rows * columns)
            }
            return unsafe body(scratch)
        case .int8(let values, let scales):
            for row in 0..<rows { unsafe dequantize(values, scales, row: row, into: scratch + row * columns) }
            return unsafe body(scratch)
        }
    }

    /// The matrix packed for ``Int8Product`` when it is INT8 (`nil` otherwise).
    ///
    /// - Complexity: O(rows × columns).
    func packedInt8(level: Int8Product.Level = .best) -> PackedInt8Matrix? {
        guard case .int8(let values, let scales) = storage else { return nil }
        return unsafe values.withUnsafeBytes { q in
            unsafe scales.withUnsafeBytes { s in
                unsafe PackedInt8Matrix(values: q.baseAddress!.assumingMemoryBound(to: Int8.self),
                                        scales: s.baseAddress!.assumingMemoryBound(to: Float.self),
                                        rows: rows, columns: columns, level: level)
            }
        }
    }

    /// Writes row `row` as `Float`s into `destination`, which holds `columns` floats.
    ///
    /// - Complexity: O(columns).
    func copyRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
        switch storage {
        case .f32(let tensor):
            unsafe tensor.withUnsafeBytes { bytes in
                unsafe destination.update(from: bytes.baseAddress!.assumingMemoryBound(to: Float.self) + row * columns,
                                   count: columns)
            }
        case .f16(let tensor):
            unsafe tensor.withUnsafeBytes { bytes in
                unsafe Conversion.widen(bytes.baseAddress!.assumingMemoryBound(to: Float16.self) + row * columns,
                                 into: destination, count: columns)
            }
        case .int8(let values, let scales):
            unsafe dequantize(values, scales, row: row, into: destination)
        }
    }

    private func dequantize(_ values: Tensor, _ scales: Tensor, row: Int, into destination: UnsafeMutablePointer<Float>) {
        unsafe values.withUnsafeBytes { q in
            unsafe scales.withUnsafeBytes { s in
                let scale = unsafe s.load(fromByteOffset: row * 4, as: Float.self)
                let source = unsafe q.baseAddress!.assumingMemoryBound(to: Int8.self) + row * columns
                for column in 0..<columns { unsafe destination[column] = unsafe Float(source[column]) * scale }
            }
        }
    }

    /// `tensor`, or an aligned owned copy when its bytes are misaligned for its elements.
    private static func aligned(_ tensor: Tensor) -> Tensor {
        if tensor.isAligned { return tensor }
        let storage = unsafe tensor.withUnsafeBytes { unsafe ByteStorage.copy(of: $0) }
        let info = TensorInfo(name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, dataOffsets: 0..<tensor.byteCount)
        return unsafe Tensor(info: info, storage: storage, bytes: storage.bytes)
    }

    /// `tensor` rounded (or widened) to `format`, as `weights convert --dtype` writes it.
    private static func converted(_ tensor: Tensor, to format: FloatFormat) throws -> Tensor {
        guard let source = FloatFormat(tensor.dtype) else {
            throw WeightsError(.dtypeMismatch,
                "tensor '\(tensor.name)' is \(tensor.dtype), not a floating dtype", tensor: tensor.name)
        }
        let count = tensor.elementCount * format.byteWidth
        let storage = unsafe ByteStorage.allocate(count: count) { destination in
            _ = unsafe tensor.withUnsafeBytes { unsafe FloatFormat.convert($0, from: source, to: format, into: destination) }
        }
        let info = TensorInfo(name: tensor.name, dtype: format.dtype, shape: tensor.shape, dataOffsets: 0..<count)
        return unsafe Tensor(info: info, storage: storage, bytes: storage.bytes)
    }
}

/// Widening conversions used on the hot path.
enum Conversion {
    /// Widens `count` halves to floats (exact).
    @inline(__always)
    static func widen(_ source: UnsafePointer<Float16>, into destination: UnsafeMutablePointer<Float>, count: Int) {
        unsafe FloatFormat.convert(UnsafeBufferPointer(start: source, count: count),
                            into: UnsafeMutableBufferPointer(start: destination, count: count))
    }
}
