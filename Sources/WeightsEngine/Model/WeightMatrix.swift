import CWeightsSIMD
import WeightsCore

/// A `[rows, columns]` weight matrix in F32, F16, per-row INT8, or one of the hub's quantized
/// layouts (compressed-tensors INT4 and INT8 `pack-quantized`, F8_E4M3 with scales), as the
/// encoder keeps it.
///
/// F32 and F16 matrices may point straight into a mapped file (zero-copy); converted ones own
/// their bytes. Either way the matrix holds its ``Tensor``s, which keep the bytes alive.
/// Products always run in `Float`: ``MatrixProduct`` converts F16, INT8, INT4 and FP8 values
/// while it packs them, and the BLAS fallback widens them into a scratch buffer just before
/// use, so they stay small in memory. The hub's layouts widen to exactly the values
/// `weights convert --dtype f32` writes for them (``HubDequantizer``'s arithmetic).
package struct WeightMatrix: Sendable {
    enum Storage: Sendable {
        case f32(Tensor)
        case f16(Tensor)
        /// I8 values and one F32 scale per row; a value is `Float(q) * scale`.
        case int8(values: Tensor, scales: Tensor)
        /// Values in one of the hub's layouts, as stored, and their scales.
        case scaled(values: Tensor, Scaling)
    }

    /// How the values of a ``Storage/scaled(values:_:)`` matrix are laid out and scaled, for
    /// CWeightsSIMD's `weights_gemm_scales`.
    struct Scaling: Sendable {
        /// `WEIGHTS_GEMM_PACKED4`, `WEIGHTS_GEMM_PACKED8` or `WEIGHTS_GEMM_F8E4M3`.
        let format: Int32
        /// Entries from one stored row to the next (a whole number of words when packed).
        let stride: Int
        /// The scales, widened to `Float`, row-major over blocks of `groupRows` × `groupColumns`.
        let scales: [Float]
        let groupRows: Int
        let groupColumns: Int
        let scalesPerRow: Int
        /// The format `q × scale` is rounded to: the scales' (`WEIGHTS_GEMM_F32`, `_F16`, `_BF16`).
        let product: Int32
        let precision: WeightPrecision

        /// The byte offset of row `row` in the stored values.
        func offset(ofRow row: Int) -> Int {
            format == WEIGHTS_GEMM_PACKED4 ? row * stride / 2 : row * stride
        }

        /// The C description, for rows from `firstRow` on, over `scales`' storage.
        @unsafe func description(_ scales: UnsafePointer<Float>, firstRow: Int) -> weights_gemm_scales {
            unsafe weights_gemm_scales(scales: scales, first_row: firstRow, group_rows: groupRows,
                                       group_columns: groupColumns, scales_per_row: scalesPerRow, product: product)
        }
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
        case .scaled(_, let scaling): scaling.precision
        }
    }

    /// Bytes the values occupy (scales included).
    package var byteCount: Int {
        switch storage {
        case .f32(let tensor), .f16(let tensor): tensor.byteCount
        case .int8(let values, let scales): values.byteCount + scales.byteCount
        case .scaled(let values, let scaling): values.byteCount + scaling.scales.count * MemoryLayout<Float>.size
        }
    }

    /// A matrix over `tensor`, which must be `[rows, columns]`, kept in `precision`
    /// (`nil`: as stored, widening formats other than F32 and F16 to F32). A converted matrix
    /// owns its values, and the mapped pages it was converted from leave the process's
    /// resident memory (`dontNeed`).
    ///
    /// `.int4` and `.f8E4M3` quantize as `weights convert --dtype int4|f8_e4m3` does
    /// (``HubQuantizer``: INT4 in groups of 128, FP8 per row); a matrix that scheme leaves
    /// alone (an embedding, rows that are not whole groups) is kept as for `nil`.
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
        var precision = precision
        if precision == .int4 || precision == .f8E4M3 {
            let scheme: HubQuantizer.Scheme = precision == .int4
                ? .int4(groupSize: ConversionTarget.defaultGroupSize) : .fp8PerChannel
            if HubQuantizer.exclusion(of: tensor.info, scheme: scheme) == nil {
                let quantized = try HubQuantizer.quantize(tensor, scheme: scheme)
                let layout: HubQuantizedLayout = precision == .int4
                    ? .packedIntegers(bits: 4, groupSize: ConversionTarget.defaultGroupSize, symmetric: true)
                    : .scaledFP8(.row)
                storage = .scaled(values: quantized.parts[0],
                                  try Self.scaling(layout, values: quantized.parts[0], scales: quantized.parts[1],
                                                   rows: rows, columns: columns, dtype: tensor.dtype))
                tensor.advise(.dontNeed)
                return
            }
            precision = nil
        }
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

    /// A matrix over the stored tensors of a quantized `layer` of the hub's layouts, read
    /// through `tensor`; the values stay as stored (mapped), the scales are widened to `Float`.
    ///
    /// - Throws: `unsupportedFormat` for asymmetric integers (zero points) and integer widths
    ///   other than 4 and 8: `weights convert --dtype f32` reads those; the reader's errors.
    package init(layer: HubQuantizedLayout.Layer, reading tensor: (String) throws -> Tensor) throws {
        rows = layer.weight.shape[0]
        columns = layer.weight.shape[1]
        if case .packedIntegers(let bits, _, let symmetric) = layer.layout, !symmetric || (bits != 4 && bits != 8) {
            throw WeightsError(.unsupportedFormat,
                "layer '\(layer.prefix)' is \(symmetric ? "" : "asymmetric ")\(bits)-bit pack-quantized, which the "
                + "engine does not run (symmetric 4 and 8 bits only): convert it with `weights convert --dtype f32` first",
                tensor: layer.parts[0])
        }
        let values = try tensor(layer.parts[0])
        let scales = try tensor(layer.parts[1])
        storage = .scaled(values: values, try Self.scaling(layer.layout, values: values, scales: scales,
                                                           rows: rows, columns: columns, dtype: layer.weight.dtype))
    }

    /// The ``Scaling`` of values stored in `layout` with `scales`, for a `[rows, columns]`
    /// weight whose dequantized dtype is `dtype`.
    private static func scaling(_ layout: HubQuantizedLayout, values: Tensor, scales: Tensor,
                                rows: Int, columns: Int, dtype: DType) throws -> Scaling {
        let widened = try scales.floats()
        let product = switch dtype {
        case .f16: WEIGHTS_GEMM_F16
        case .bf16: WEIGHTS_GEMM_BF16
        default: WEIGHTS_GEMM_F32
        }
        func blocks(_ size: Int) -> Int { (columns + size - 1) / size }
        switch layout {
        case .packedIntegers(let bits, let groupSize, _):
            return Scaling(format: bits == 4 ? WEIGHTS_GEMM_PACKED4 : WEIGHTS_GEMM_PACKED8,
                           stride: values.shape[1] * (32 / bits), scales: widened, groupRows: 1,
                           groupColumns: groupSize, scalesPerRow: columns / groupSize, product: product,
                           precision: bits == 4 ? .int4 : .int8)
        case .scaledFP8(.tensor):
            return Scaling(format: WEIGHTS_GEMM_F8E4M3, stride: columns, scales: widened, groupRows: rows,
                           groupColumns: columns, scalesPerRow: 1, product: product, precision: .f8E4M3)
        case .scaledFP8(.row):
            return Scaling(format: WEIGHTS_GEMM_F8E4M3, stride: columns, scales: widened, groupRows: 1,
                           groupColumns: columns, scalesPerRow: 1, product: product, precision: .f8E4M3)
        case .scaledFP8(.block(let size)):
            return Scaling(format: WEIGHTS_GEMM_F8E4M3, stride: columns, scales: widened, groupRows: size,
                           groupColumns: size, scalesPerRow: blocks(size), product: product, precision: .f8E4M3)
        case .blockScaledFP8:
            let size = HubQuantizedLayout.blockSize
            return Scaling(format: WEIGHTS_GEMM_F8E4M3, stride: columns, scales: widened, groupRows: size,
                           groupColumns: size, scalesPerRow: blocks(size), product: WEIGHTS_GEMM_F32, precision: .f8E4M3)
        }
    }

    /// Calls `body` with rows `rows` of the matrix as a ``MatrixProduct`` operand, in their
    /// stored format (row stride `columns`).
    ///
    /// - Complexity: O(1).
    package func withOperand<R>(rows: Range<Int>, _ body: (MatrixProduct.Operand) -> R) -> R {
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
        case .scaled(let values, let scaling):
            return unsafe values.withUnsafeBytes { q in
                unsafe scaling.scales.withUnsafeBufferPointer { s in
                    unsafe body(.scaled(q.baseAddress! + scaling.offset(ofRow: rows.lowerBound), format: scaling.format,
                                        stride: scaling.stride,
                                        scales: scaling.description(s.baseAddress!, firstRow: rows.lowerBound)))
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
        case .scaled(let values, let scaling):
            unsafe widen(values, scaling, rows: 0..<rows, into: scratch)
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
        case .scaled(let values, let scaling):
            unsafe widen(values, scaling, rows: row..<row + 1, into: destination)
        }
    }

    /// Rows `rows` of the matrix as `Float`s, every value as the product's packing widens it.
    ///
    /// - Complexity: O(rows × columns).
    package func floats(rows: Range<Int>) -> [Float] {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= self.rows, "floats(rows:): rows out of range")
        var values = [Float](repeating: 0, count: rows.count * columns)
        guard !values.isEmpty else { return values }
        unsafe values.withUnsafeMutableBufferPointer { buffer in
            for (index, row) in rows.enumerated() { unsafe copyRow(row, into: buffer.baseAddress! + index * columns) }
        }
        return values
    }

    /// Widens rows `rows` of a scaled matrix into `destination`, which holds their floats.
    private func widen(_ values: Tensor, _ scaling: Scaling, rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        unsafe values.withUnsafeBytes { q in
            unsafe scaling.scales.withUnsafeBufferPointer { s in
                var description = unsafe scaling.description(s.baseAddress!, firstRow: rows.lowerBound)
                unsafe weights_gemm_widen(q.baseAddress! + scaling.offset(ofRow: rows.lowerBound), scaling.stride,
                                          scaling.format, &description, rows.count, columns, destination)
            }
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
