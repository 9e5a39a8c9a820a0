import CWeightsSIMD

/// The input of a matrix product for `count` tokens: `count` rows of `columns` floats, and
/// their 8-bit blocks, made on first use and kept until the floats change.
///
/// Quantizing happens once per input vector and block format (Q8_0 levels and scale, the
/// scale held in binary32, for Q8_0 and Q5_0 weights; Q8_32 blocks, with a binary32 scale and
/// the block's sum, for the K formats), not
/// once per weight row: the query, key and value products share the quantized copies of
/// their input, and the gate and up products theirs.
///
/// Storage is kept between uses and only grows, so a generated token allocates nothing.
package struct ActivationRows: Sendable {
    package private(set) var count = 0
    package private(set) var columns = 0
    /// `count × columns` floats, row after row (the array may be longer). Changing them
    /// marks the quantized blocks stale.
    package var values: [Float] = [] { didSet { blocks32Fresh = false; blocks256Fresh = false } }
    private var blocks32: [UInt8] = []
    private var blocks256: [UInt8] = []
    private var blocks32Fresh = false
    private var blocks256Fresh = false

    package init() {}

    /// Sizes the rows for `count` tokens of `columns` values; the values are left as they are.
    package mutating func resize(count: Int, columns: Int) {
        self.count = count
        self.columns = columns
        if values.count < count * columns { values += [Float](repeating: 0, count: count * columns - values.count) }
        blocks32Fresh = false
        blocks256Fresh = false
    }

    /// The rows quantized to the blocks `weightType` (a C kernel type id) is multiplied
    /// with, and the bytes from one row's blocks to the next.
    package mutating func blocks(for weightType: Int32) -> (bytes: [UInt8], stride: Int) {
        // `values` is settable: a caller may have shortened it since `resize`.
        precondition(values.count >= count * columns, "ActivationRows: fewer values than count × columns")
        let stride = weights_quantized_activation_size(weightType, columns)
        // The K formats (256-value weight blocks) take Q8_32 activation blocks.
        let wide = weights_quantized_block_elements(weightType) == 256
        if wide ? blocks256Fresh : blocks32Fresh { return (wide ? blocks256 : blocks32, stride) }
        var bytes = wide ? blocks256 : blocks32
        if wide { blocks256 = [] } else { blocks32 = [] }  // keep `bytes` unique: no copy on write
        if bytes.count < count * stride { bytes += [UInt8](repeating: 0, count: count * stride - bytes.count) }
        let (rows, columns) = (count, self.columns)
        // Sound: `values` holds rows × columns floats (checked above) and `bytes` rows × stride,
        // stride being the bytes the kernel writes for `columns` floats of this type (none when
        // it does not take the type or `columns` is not a whole number of blocks).
        unsafe values.withUnsafeBufferPointer { x in
            unsafe bytes.withUnsafeMutableBytes { out in
                for row in 0..<rows {
                    _ = unsafe weights_quantize_activations(weightType, x.baseAddress! + row * columns, columns,
                                                            out.baseAddress! + row * stride, Int32(WEIGHTS_KERNEL_BEST))
                }
            }
        }
        if wide { blocks256 = bytes; blocks256Fresh = true } else { blocks32 = bytes; blocks32Fresh = true }
        return (bytes, stride)
    }
}
