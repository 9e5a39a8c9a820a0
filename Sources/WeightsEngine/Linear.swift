import Weights

/// A fully connected layer, y = x · Wᵀ + b, with W stored `[out, in]` as PyTorch stores it.
///
/// The product runs in `Float` through BLAS; the weights are read in place for F32 and
/// widened into the caller's scratch buffer for F16 and INT8.
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
    /// With `threads` > 1 the output columns (rows of W) are shared out, one BLAS call per
    /// thread.
    func multiply(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>,
                  scratch: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let (inputSize, outputSize) = (self.inputSize, self.outputSize)
        weight.withFloats(scratch: scratch) { w in
            Parallel.forEach(threads) { part in
                let columns = Parallel.slice(outputSize, into: threads, part: part)
                guard !columns.isEmpty else { return }
                BLAS.multiplyTransposed(input, lda: inputSize, w + columns.lowerBound * inputSize, ldb: inputSize,
                                        into: output + columns.lowerBound, ldc: outputSize,
                                        m: rows, n: columns.count, k: inputSize)
            }
        }
    }

    /// y = x · Wᵀ + b.
    func apply(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>,
               scratch: UnsafeMutablePointer<Float>, threads: Int = 1) {
        multiply(input, rows: rows, into: output, scratch: scratch, threads: threads)
        bias.withUnsafeBufferPointer { bias in
            Operations.addBias(UnsafeMutableBufferPointer(start: output, count: rows * outputSize), bias)
        }
    }
}
