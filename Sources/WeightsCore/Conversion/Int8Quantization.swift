import CWeightsSIMD

/// Symmetric per-row INT8 quantization: the scheme behind `weights convert --dtype int8`.
///
/// A row is a slice along the first dimension: for an `[out, in]` weight, one output channel.
/// Each row gets one `Float` scale:
///
/// - `scale = max|row| / 127`, computed in `Float`;
/// - `q = x / scale`, rounded to nearest with ties to even, clamped to `-127...127`;
/// - a row whose largest magnitude is 0, or so small that `max / 127` underflows to 0, gets
///   scale 0 and all `q` = 0.
///
/// Dequantization is `Float(q) * scale`. In a file, a tensor `name` becomes `name` (I8, same
/// shape) plus `name_scale` (F32, shape `[rows, 1, ...]`), and the metadata entry
/// ``metadataKey`` = ``scheme`` says so. `Spec/conversion.md` defines the format.
///
/// ```swift
/// let values: [Float] = [0.5, -1, 0.25, 0, 0, 0]      // 2 rows of 3
/// var q = [Int8](repeating: 0, count: 6), scales = [Float](repeating: 0, count: 2)
/// try values.withUnsafeBufferPointer { v in
///     try q.withUnsafeMutableBufferPointer { q in
///         try scales.withUnsafeMutableBufferPointer { s in
///             try Int8Quantization.quantizeRows(v, rows: 2, into: q, scales: s)
///         }
///     }
/// }
/// // q == [64, -127, 32, 0, 0, 0], scales == [1 / 127, 0]
/// ```
public enum Int8Quantization {
    /// Appended to a quantized tensor's name to name its scales: `x.weight` → `x.weight_scale`
    /// (the compressed-tensors convention).
    public static let scaleSuffix = "_scale"
    /// The file metadata key that marks a file as quantized with this scheme.
    public static let metadataKey = "weights.quantization"
    /// The value of ``metadataKey``.
    public static let scheme = "int8-symmetric-per-row"
    /// The largest stored magnitude; -128 is never produced, so the range is symmetric.
    public static let maximumLevel: Float = 127

    /// The name of the scale tensor that goes with the quantized tensor `name`.
    public static func scaleName(for name: String) -> String { name + scaleSuffix }

    /// The shape of the scale tensor for a quantized tensor of `shape`: `[rows, 1, ...]`, of
    /// the same rank, so that it broadcasts against the values.
    public static func scaleShape(for shape: [Int]) -> [Int] {
        guard let rows = shape.first else { return [] }
        return [rows] + Array(repeating: 1, count: shape.count - 1)
    }

    /// Whether a tensor of `dtype` and `shape` is quantized by `--dtype int8`: a floating
    /// tensor of rank 2 or more.
    public static func isQuantizable(dtype: DType, shape: [Int]) -> Bool {
        shape.count >= 2 && FloatFormat(dtype) != nil
    }

    /// Quantizes `values`, laid out as `rows` equal rows, into `q` with one scale per row.
    ///
    /// - Parameters:
    ///   - values: `rows × n` values, row after row.
    ///   - rows: the number of rows; `values.count` must be a multiple of it.
    ///   - q: receives `values.count` quantized values.
    ///   - scales: receives `rows` scales.
    ///   - kernel: `.best` uses AVX2 when the CPU has it; `.portable` gives the same results
    ///     without it.
    /// - Throws: `invalidArgument` when the buffer sizes disagree, or when a row holds NaN or an
    ///   infinity (which has no finite scale); nothing is guaranteed about `q` and `scales`
    ///   then.
    /// - Complexity: O(*n*), two passes over each row.
    public static func quantizeRows(
        _ values: UnsafeBufferPointer<Float>, rows: Int,
        into q: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>,
        kernel: ConversionKernel = .best
    ) throws(WeightsError) {
        let rowLength = try checkedRowLength(count: values.count, rows: rows, other: q.count, scales: scales.count)
        // Sound: `checkedRowLength` made `values` and `q` `rows × rowLength` long and `scales`
        // `rows` long, so row `row`'s slices and scale lie in them.
        for row in 0..<rows {
            let start = row * rowLength
            let slice = unsafe UnsafeBufferPointer(rebasing: values[start..<start + rowLength])
            let output = unsafe UnsafeMutableBufferPointer(rebasing: q[start..<start + rowLength])
            guard let scale = unsafe quantizeRow(slice, into: output, kernel: kernel) else {
                throw WeightsError(.invalidData, "row \(row) holds NaN or infinity, which INT8 cannot scale")
            }
            unsafe scales[row] = scale
        }
    }

    /// Reconstructs `Float(q) * scale` for every value of every row.
    ///
    /// - Throws: `invalidArgument` when the buffer sizes disagree.
    /// - Complexity: O(*n*).
    public static func dequantizeRows(
        _ q: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>, rows: Int,
        into values: UnsafeMutableBufferPointer<Float>
    ) throws(WeightsError) {
        let rowLength = try checkedRowLength(count: q.count, rows: rows, other: values.count, scales: scales.count)
        // Sound: as in `quantizeRows`.
        for row in 0..<rows {
            let scale = unsafe scales[row]
            let start = row * rowLength
            for index in start..<start + rowLength {
                unsafe values[index] = unsafe Float(q[index]) * scale
            }
        }
    }

    // Sound: `q` has `row.count` elements (both callers pass slices of one length), which
    // `quantize` needs.
    /// Quantizes one row; returns its scale, or `nil` when the row is not finite.
    @inline(__always)
    static func quantizeRow(_ row: UnsafeBufferPointer<Float>, into q: UnsafeMutableBufferPointer<Int8>,
                            kernel: ConversionKernel = .best) -> Float? {
        guard let largest = unsafe largestMagnitude(row, kernel: kernel) else { return nil }
        let scale = scale(forLargestMagnitude: largest)
        unsafe quantize(row, scale: scale, into: q, kernel: kernel)
        return scale
    }

    /// The largest magnitude in `values`, or `nil` when one is NaN or infinite.
    static func largestMagnitude(_ values: UnsafeBufferPointer<Float>, kernel: ConversionKernel = .best) -> Float? {
        guard let base = values.baseAddress else { return 0 }
        var largest: Float = 0
        // Sound: the kernel reads `values.count` floats from its base, and writes one `Float`.
        return unsafe weights_largest_magnitude(base, values.count, &largest, kernel.code) ? largest : nil
    }

    /// The scale of a row whose largest magnitude is `largest`: 0 when it underflows.
    static func scale(forLargestMagnitude largest: Float) -> Float {
        largest / maximumLevel
    }

    /// Quantizes finite `values` with `scale`; a zero scale gives zeros.
    static func quantize(_ values: UnsafeBufferPointer<Float>, scale: Float, into q: UnsafeMutableBufferPointer<Int8>,
                         kernel: ConversionKernel = .best) {
        // Sound: the kernel reads `values.count` floats and writes as many `Int8`s to `q`,
        // which the callers size alike (`quantizeRow`'s, and `RowQuantizer`'s row slices).
        guard scale > 0 else {
            unsafe q.update(repeating: 0)
            return
        }
        guard let base = values.baseAddress else { return }
        // The kernel divides (it does not multiply by 1/scale: the reciprocal would round a
        // second time and move ties away from `round(x / scale)`).
        unsafe weights_quantize_int8(base, values.count, scale, q.baseAddress!, kernel.code)
    }

    private static func checkedRowLength(count: Int, rows: Int, other: Int, scales: Int) throws(WeightsError) -> Int {
        guard rows >= 0, scales == rows, other == count else {
            throw WeightsError(.invalidArgument,
                "INT8 buffers disagree: \(count) values, \(other) outputs, \(rows) rows, \(scales) scales")
        }
        if rows == 0 {
            guard count == 0 else {
                throw WeightsError(.invalidArgument, "\(count) values cannot form 0 rows")
            }
            return 0
        }
        guard count % rows == 0 else {
            throw WeightsError(.invalidArgument, "\(count) values do not split into \(rows) equal rows")
        }
        return count / rows
    }
}

extension Int8Quantization {
    /// Quantizes a floating tensor of rank 2 or more into its INT8 values and its scales.
    ///
    /// The values keep the tensor's name and shape as I8; the scales are named
    /// ``scaleName(for:)`` with shape ``scaleShape(for:)``. F16, BF16, F64 and 8-bit float
    /// tensors are widened to `Float` first (exactly, except F64, which rounds to nearest).
    ///
    /// ```swift
    /// let (q, scales) = try Int8Quantization.quantize(file.tensor(named: "encoder.weight"))
    /// ```
    ///
    /// - Throws: `dtypeMismatch` for a tensor that ``isQuantizable(dtype:shape:)`` rejects;
    ///   `invalidArgument`, naming the tensor, for a row holding NaN or infinity.
    /// - Complexity: O(*n*) time; O(*n*) memory for the result (and for a widened copy of a
    ///   tensor that is not F32).
    public static func quantize(_ tensor: Tensor) throws -> (values: Tensor, scales: Tensor) {
        guard isQuantizable(dtype: tensor.dtype, shape: tensor.shape) else {
            throw WeightsError(.dtypeMismatch,
                "tensor '\(tensor.name)' is \(tensor.dtype) of rank \(tensor.shape.count); INT8 takes floating tensors of rank 2 or more",
                tensor: tensor.name)
        }
        let rows = tensor.shape[0], count = tensor.elementCount
        // The values and scales are written straight into the two tensors' storage (every byte:
        // each row gets its scale and all its levels), and an F32 tensor is read where it lies.
        func quantized(_ values: UnsafeBufferPointer<Float>) throws -> (ByteStorage, ByteStorage) {
            var scaleStorage: ByteStorage?
            // Sound: both allocations are exactly `count` bytes and `rows` floats, the sizes
            // `quantizeRows` checks against `values` and fills completely.
            let valueStorage = unsafe try ByteStorage.allocate(count: count, zeroed: false) { q in
                scaleStorage = unsafe try ByteStorage.allocate(count: rows * MemoryLayout<Float>.size, zeroed: false) { scales in
                    unsafe try quantizeRows(values, rows: rows, into: q.bindMemory(to: Int8.self), scales: scales.bindMemory(to: Float.self))
                }
            }
            return (valueStorage, scaleStorage!)
        }
        let storages: (values: ByteStorage, scales: ByteStorage)
        do {
            if tensor.dtype == .f32 {
                // Sound: `withElements` lends the tensor's floats (or an aligned copy) for the call.
                storages = unsafe try tensor.withElements(of: Float.self) { unsafe try quantized($0) }
            } else {
                let floats = try tensor.floats()
                // Sound: the array is lent for the call.
                storages = unsafe try floats.withUnsafeBufferPointer { unsafe try quantized($0) }
            }
        } catch let error as WeightsError {
            throw WeightsError(error.code, "tensor '\(tensor.name)': \(error.reason)", tensor: tensor.name)
        }
        let valuesInfo = TensorInfo(name: tensor.name, dtype: .i8, shape: tensor.shape, dataOffsets: 0..<count)
        let scalesInfo = TensorInfo(name: scaleName(for: tensor.name), dtype: .f32, shape: scaleShape(for: tensor.shape),
                                    dataOffsets: 0..<rows * MemoryLayout<Float>.size)
        // Sound: each tensor holds the storage its bytes are, of the size its entry gives.
        return (unsafe Tensor(info: valuesInfo, storage: storages.values, bytes: storages.values.bytes),
                unsafe Tensor(info: scalesInfo, storage: storages.scales, bytes: storages.scales.bytes))
    }

    /// Reconstructs an F32 tensor, named and shaped as `values`, from INT8 `values` and their
    /// `scales`.
    ///
    /// - Throws: `dtypeMismatch` unless `values` is I8 and `scales` F32; `invalidArgument` when
    ///   `scales` does not have the shape ``scaleShape(for:)`` gives for `values`.
    /// - Complexity: O(*n*).
    public static func dequantize(_ values: Tensor, scales: Tensor) throws -> Tensor {
        try checkPair(values: values.info, scales: scales.info)
        let rows = values.shape[0]
        // Sound: `dequantizeRows` checks that `buffer` (`elementCount` floats) matches `q`, and
        // writes every one of them before `count` says so; a throw leaves `count` at 0.
        let output = unsafe try [Float](unsafeUninitializedCapacity: values.elementCount) { buffer, count in
            unsafe try values.withElements(of: Int8.self) { q in
                unsafe try scales.withElements(of: Float.self) { scales in
                    unsafe try dequantizeRows(q, scales: scales, rows: rows, into: buffer)
                }
            }
            count = values.elementCount
        }
        return try Tensor(name: values.name, shape: values.shape, elements: output)
    }

    /// Checks that `values` and `scales` form a quantized pair.
    public static func checkPair(values: TensorInfo, scales: TensorInfo) throws {
        guard values.dtype == .i8, values.shape.count >= 2 else {
            throw WeightsError(.dtypeMismatch,
                "tensor '\(values.name)' is \(values.dtype) of rank \(values.shape.count); quantized values are I8 of rank 2 or more",
                tensor: values.name)
        }
        guard scales.dtype == .f32 else {
            throw WeightsError(.dtypeMismatch, "scale tensor '\(scales.name)' is \(scales.dtype), not F32", tensor: scales.name)
        }
        guard scales.shape == scaleShape(for: values.shape) else {
            throw WeightsError(.invalidData,
                "scale tensor '\(scales.name)' has shape \(scales.shape); \(values.shape) needs \(scaleShape(for: values.shape))",
                tensor: scales.name)
        }
    }

    /// The quantized pairs of `source`, each values tensor's name to its scale tensor: none
    /// unless the file's metadata says ``metadataKey`` = ``scheme``; then every I8 tensor of
    /// rank 2 or more that has a `_scale` partner, each pair checked with ``checkPair(values:scales:)``.
    ///
    /// - Complexity: O(*n*) in the tensors.
    /// - Throws: the first pair that does not check.
    package static func pairs(in source: any TensorSource) throws -> [UTF8Key: TensorInfo] {
        guard source.metadata?[metadataKey] == scheme else { return [:] }
        let byName = Dictionary(source.tensors.map { (UTF8Key($0.name), $0) }, uniquingKeysWith: { first, _ in first })
        var pairs: [UTF8Key: TensorInfo] = [:]
        for info in source.tensors where info.dtype == .i8 && info.shape.count >= 2 {
            guard let scales = byName[UTF8Key(scaleName(for: info.name))] else { continue }
            try checkPair(values: info, scales: scales)
            pairs[UTF8Key(info.name)] = scales
        }
        return pairs
    }
}
