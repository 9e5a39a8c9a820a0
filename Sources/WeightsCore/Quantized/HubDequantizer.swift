/// The arithmetic of ``HubQuantizedLayout``: each layer's stored tensors to its weight, with the
/// operations the reference libraries perform, in their order and precision, so that the
/// values are theirs bit for bit (`Spec/quantized-layouts.md`).
///
/// compressed-tensors dequantizes in the scale's dtype: `q` and the zero point are widened to
/// it (exactly: they are integers below 2⁸), subtracted, and multiplied by the scale, one
/// rounding to the scale's dtype. A product of two F16 or BF16 values is exact in `Float`, so
/// computing it in `Float` and rounding once gives that same value. DeepSeek-V3 multiplies in
/// F32.
package enum HubDequantizer {
    /// The weight of `layer`, from its stored tensors read through `tensor`.
    ///
    /// - Complexity: O(*n*) in the weight's entries; the scales and the result are in memory.
    static func weight(of layer: HubQuantizedLayout.Layer, reading tensor: (String) throws -> Tensor) throws -> Tensor {
        let rows = layer.weight.shape[0], columns = layer.weight.shape[1]
        var values = [Float](repeating: 0, count: rows * columns)
        switch layer.layout {
        case .packedIntegers(let bits, let groupSize, let symmetric):
            let packed = try tensor(layer.parts[0]).elements(of: Int32.self)
            let scales = try tensor(layer.parts[1]).floats()
            let zeros = symmetric ? nil : try tensor(layer.parts[3]).elements(of: Int32.self)
            let words = packed.count / rows, groups = columns / groupSize, offset = Int32(1) << (bits - 1)
            for row in 0..<rows {
                for column in 0..<columns {
                    let q = unpack(packed, start: row * words, index: column, bits: bits) - offset
                    var level = Float(q)
                    if let zeros {
                        // Zero points are packed down the columns of a [rows, groups] matrix.
                        let zero = unpack(zeros, start: column / groupSize, stride: groups, index: row, bits: bits) - offset
                        level -= Float(zero)
                    }
                    values[row * columns + column] = level * scales[row * groups + column / groupSize]
                }
            }
        case .scaledFP8(let granularity):
            let weights = try tensor(layer.parts[0]).floats()
            let scales = try tensor(layer.parts[1]).floats()
            for row in 0..<rows {
                for column in 0..<columns {
                    let scale = switch granularity {
                    case .tensor: scales[0]
                    case .row: scales[row]
                    case .block(let size): scales[(row / size) * ((columns + size - 1) / size) + column / size]
                    }
                    values[row * columns + column] = weights[row * columns + column] * scale
                }
            }
        case .blockScaledFP8:
            let weights = try tensor(layer.parts[0]).floats()
            let scales = try tensor(layer.parts[1]).floats()
            let size = HubQuantizedLayout.blockSize, blockColumns = (columns + size - 1) / size
            for row in 0..<rows {
                for column in 0..<columns {
                    values[row * columns + column] = weights[row * columns + column] * scales[(row / size) * blockColumns + column / size]
                }
            }
        }
        let name = layer.weight.name, shape = layer.weight.shape
        switch layer.weight.dtype {
        case .f16: return try Tensor(name: name, shape: shape, elements: values.map { Float16($0) })
        case .bf16: return try Tensor(name: name, shape: shape, elements: values.map { BFloat16($0) })
        case .f64: return try Tensor(name: name, shape: shape, elements: values.map { Double($0) })
        default: return try Tensor(name: name, shape: shape, elements: values)
        }
    }

    /// Entry `index` of a stream of `bits`-bit unsigned fields that starts at word `start` and
    /// takes every `stride`-th word: field *i* begins at bit *i* × `bits`, low bits first, and
    /// may straddle two words.
    package static func unpack(_ words: [Int32], start: Int, stride: Int = 1, index: Int, bits: Int) -> Int32 {
        let bit = index * bits, word = bit / 32, shift = bit % 32
        var field = UInt64(UInt32(bitPattern: words[start + word * stride])) >> shift
        if shift + bits > 32 { field |= UInt64(UInt32(bitPattern: words[start + (word + 1) * stride])) << (32 - shift) }
        return Int32(field & ((1 << bits) - 1))
    }
}
