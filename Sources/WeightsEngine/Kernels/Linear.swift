import WeightsCore

/// A fully connected layer, y = x · Wᵀ + b, with W stored `[out, in]` as PyTorch stores it.
///
/// The product runs in `Float` on ``MatrixProduct``'s AVX-512 kernel, which reads the weights
/// in their stored precision. On CPUs without AVX-512 it runs through BLAS, which reads F32
/// weights in place and F16 and INT8 ones widened into the caller's scratch buffer.
struct Linear: Sendable {
    let weight: WeightMatrix
    let bias: [Float]

    var inputSize: Int { weight.columns }
    var outputSize: Int { weight.rows }

    init(weight: WeightMatrix, bias: [Float]) throws {
        guard bias.count == weight.rows else {
            throw WeightsError(.invalidArgument,
                "bias has \(bias.count) values for a weight of \(weight.rows) rows")
        }
        self.weight = weight
        self.bias = bias
    }

    /// Writes `rows` outputs (each `outputSize` wide) into `output`, without the bias: callers
    /// add it in the pass that follows (activation, residual), which saves a pass over memory.
    ///
    /// - Complexity: O(rows × in × out).
    /// With `threads` > 1 the output columns (rows of W) are shared out, one product per
    /// thread. `scratch` holds `outputSize × inputSize` floats, and is used only without
    /// ``MatrixProduct/isAccelerated``.
    func multiply(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>,
                  scratch: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let inputSize = self.inputSize
        if MatrixProduct.isAccelerated {
            forEachColumnSlice(threads) { columns in
                unsafe weight.withOperand(rows: columns) { w in
                    unsafe MatrixProduct.multiplyTransposed(input, lda: inputSize, w, ldb: inputSize,
                                                     into: output + columns.lowerBound, ldc: outputSize,
                                                     m: rows, n: columns.count, k: inputSize)
                }
            }
        } else {
            unsafe weight.withFloats(scratch: scratch) { w in
                forEachColumnSlice(threads) { columns in
                    unsafe BLAS.multiplyTransposed(input, lda: inputSize, w + columns.lowerBound * inputSize, ldb: inputSize,
                                            into: output + columns.lowerBound, ldc: outputSize,
                                            m: rows, n: columns.count, k: inputSize)
                }
            }
        }
    }

    /// Calls `body` on `threads` threads at once, each with its share of the output columns
    /// (rows of W); empty shares are skipped.
    private func forEachColumnSlice(_ threads: Int, _ body: (Range<Int>) -> Void) {
        let outputSize = self.outputSize
        Parallel.forEach(threads) { part in
            let columns = Parallel.slice(outputSize, into: threads, part: part)
            if !columns.isEmpty { body(columns) }
        }
    }

    /// y = x · Wᵀ + b.
    func apply(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>,
               scratch: UnsafeMutablePointer<Float>, threads: Int = 1) {
        unsafe multiply(input, rows: rows, into: output, scratch: scratch, threads: threads)
        unsafe bias.withUnsafeBufferPointer { bias in
            unsafe Operations.addBias(UnsafeMutableBufferPointer(start: output, count: rows * outputSize), bias)
        }
    }
}
