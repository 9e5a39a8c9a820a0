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

        /// Throws `invalidData` unless `values` and ``scales`` hold every byte and scale the C
        /// kernels read for `rows` × `columns` entries: `offset(ofRow: rows)` bytes of values,
        /// rows `stride` ≥ `columns` entries apart, and a scale for each block of each row
        /// (`scales[(row / groupRows) × scalesPerRow + column / groupColumns]`).
        func check(values: Tensor, rows: Int, columns: Int) throws {
            let blockRows = groupRows > 0 && rows > 0 ? (rows - 1) / groupRows + 1 : 0
            guard groupRows > 0, groupColumns > 0, stride >= columns,
                  format != WEIGHTS_GEMM_PACKED4 || stride % 2 == 0,
                  values.byteCount >= offset(ofRow: rows),
                  scalesPerRow * groupColumns >= columns, scales.count >= blockRows * scalesPerRow else {
                throw WeightsError(.invalidData,
                    "tensor '\(values.name)' (\(values.byteCount) bytes) and its \(scales.count) scales do not hold "
                    + "\(rows) × \(columns) entries in blocks of \(groupRows) × \(groupColumns)", tensor: values.name)
            }
        }

        /// The C description, for rows from `firstRow` on, over `scales`' storage.
        @unsafe func description(_ scales: UnsafePointer<Float>, firstRow: Int) -> weights_gemm_scales {
            // Sound: only copies the pointer; whoever uses the description keeps `scales` alive.
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
        // A `Layer`'s fields are public and settable, and `tensor` is the caller's: nothing here
        // is trusted to fit until ``Scaling/check(values:rows:columns:)`` has checked it.
        guard layer.weight.shape.count == 2, layer.parts.count >= 2 else {
            throw WeightsError(.invalidArgument, "layer '\(layer.prefix)' has shape \(layer.weight.shape), expected a matrix",
                               tensor: layer.weight.name)
        }
        rows = layer.weight.shape[0]
        columns = layer.weight.shape[1]
        if !Self.runsAsStored(layer.layout), case .packedIntegers(let bits, _, let symmetric) = layer.layout {
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

    /// Whether the kernels read values stored in `layout` as they are: every layout but
    /// `pack-quantized` with zero points or of a width other than 4 and 8 bits.
    static func runsAsStored(_ layout: HubQuantizedLayout) -> Bool {
        guard case .packedIntegers(let bits, _, let symmetric) = layout else { return true }
        return symmetric && (bits == 4 || bits == 8)
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
        let scaling: Scaling
        switch layout {
        case .packedIntegers(let bits, let groupSize, _):
            guard values.shape.count == 2, bits == 4 || bits == 8, groupSize > 0 else {
                throw WeightsError(.invalidData,
                    "tensor '\(values.name)' has shape \(values.shape) for \(bits)-bit groups of \(groupSize)",
                    tensor: values.name)
            }
            scaling = Scaling(format: bits == 4 ? WEIGHTS_GEMM_PACKED4 : WEIGHTS_GEMM_PACKED8,
                           stride: values.shape[1] * (32 / bits), scales: widened, groupRows: 1,
                           groupColumns: groupSize, scalesPerRow: columns / groupSize, product: product,
                           precision: bits == 4 ? .int4 : .int8)
        case .scaledFP8(.tensor):
            scaling = Scaling(format: WEIGHTS_GEMM_F8E4M3, stride: columns, scales: widened, groupRows: rows,
                           groupColumns: columns, scalesPerRow: 1, product: product, precision: .f8E4M3)
        case .scaledFP8(.row):
            scaling = Scaling(format: WEIGHTS_GEMM_F8E4M3, stride: columns, scales: widened, groupRows: 1,
                           groupColumns: columns, scalesPerRow: 1, product: product, precision: .f8E4M3)
        case .scaledFP8(.block(let size)):
            guard size > 0 else {
                throw WeightsError(.invalidData, "tensor '\(values.name)' has blocks of \(size)", tensor: values.name)
            }
            scaling = Scaling(format: WEIGHTS_GEMM_F8E4M3, stride: columns, scales: widened, groupRows: size,
                           groupColumns: size, scalesPerRow: blocks(size), product: product, precision: .f8E4M3)
        case .blockScaledFP8:
            let size = HubQuantizedLayout.blockSize
            scaling = Scaling(format: WEIGHTS_GEMM_F8E4M3, stride: columns, scales: widened, groupRows: size,
                              groupColumns: size, scalesPerRow: blocks(size), product: WEIGHTS_GEMM_F32, precision: .f8E4M3)
        }
        try scaling.check(values: values, rows: rows, columns: columns)
        return scaling
    }

    /// Calls `body` with rows `rows` of the matrix as a ``MatrixProduct`` operand, in their
    /// stored format (row stride `columns`).
    ///
    /// - Complexity: O(1).
    package func withOperand<R>(rows: Range<Int>, _ body: (MatrixProduct.Operand) -> R) -> R {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= self.rows, "withOperand: rows out of range")
        // Sound: the tensors, held by `storage` for the call, keep their bytes valid. Each holds
        // the matrix's rows × columns entries of its dtype (shapes checked at init; `aligned`
        // made F32, F16, I8 and their F32 scales aligned) and one scale per row, or for the
        // scaled layouts what `Scaling.check` found; `rows` lies in the matrix (checked above).
        // The operand's pointers are used only inside `body`.
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
        // Sound: as in `withOperand`, for all the rows; `scratch` holds rows × columns floats
        // (the caller's contract: the function is `unsafe` by its pointer).
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
        // Sound: rows × columns aligned I8 values and `rows` F32 scales (checked at init), lent
        // for the packing, which copies them.
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
        precondition(row >= 0 && row < rows, "copyRow: row \(row) out of range")
        // Sound: as in `withOperand`, for row `row` (checked above); `destination` holds
        // `columns` floats (the caller's contract).
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
        // Sound: `values` holds rows.count × columns floats, row `index` at `index × columns`.
        unsafe values.withUnsafeMutableBufferPointer { buffer in
            for (index, row) in rows.enumerated() { unsafe copyRow(row, into: buffer.baseAddress! + index * columns) }
        }
        return values
    }

    /// Widens rows `rows` of a scaled matrix into `destination`, which holds their floats.
    private func widen(_ values: Tensor, _ scaling: Scaling, rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        // Sound: `rows` lie in the matrix (`copyRow` checks, `withFloats` passes them all), whose
        // values and scales `Scaling.check` found to cover; `destination` holds their floats.
        unsafe values.withUnsafeBytes { q in
            unsafe scaling.scales.withUnsafeBufferPointer { s in
                var description = unsafe scaling.description(s.baseAddress!, firstRow: rows.lowerBound)
                unsafe weights_gemm_widen(q.baseAddress! + scaling.offset(ofRow: rows.lowerBound), scaling.stride,
                                          scaling.format, &description, rows.count, columns, destination)
            }
        }
    }

    private func dequantize(_ values: Tensor, _ scales: Tensor, row: Int, into destination: UnsafeMutablePointer<Float>) {
        // Sound: `row` < rows (callers check), `values` holds rows × columns I8, `scales` rows
        // F32, and `destination` `columns` floats.
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
        // Sound: copies the bytes inside the closure; the new tensor views all of its own storage.
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
        // Sound: the conversion writes elementCount × byteWidth = `count` bytes, the storage's
        // size, from the tensor's bytes, lent for the call; the tensor views its own storage.
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
        // Sound: the caller lends `count` halves and `count` floats (the function is `unsafe`).
        unsafe FloatFormat.convert(UnsafeBufferPointer(start: source, count: count),
                            into: UnsafeMutableBufferPointer(start: destination, count: count))
    }
}
