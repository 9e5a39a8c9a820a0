import WeightsCore

/// A fully connected layer, y = x · Wᵀ + b, with W stored `[out, in]` as PyTorch stores it.
///
/// In float arithmetic the product runs in `Float` on ``MatrixProduct``'s AVX-512 kernel, which
/// reads the weights in their stored precision. On CPUs without AVX-512 it runs through BLAS,
/// which reads F32 weights in place and the others (F16, INT8, the hub's INT4 and FP8) widened
/// into the workspace's scratch.
///
/// In INT8 arithmetic (``integer`` set, Spec/int8-compute.md) the input is quantized per token
/// into the workspace and multiplied by the packed INT8 weights in `Int32`
/// (``Int8Product``); the scales, and the bias where asked, are applied as the sums are
/// written.
struct Linear: Sendable {
    let weight: WeightMatrix
    let bias: [Float]
    /// The weights packed for integer products when this layer computes in INT8.
    let integer: PackedInt8Matrix?

    var inputSize: Int { weight.columns }
    var outputSize: Int { weight.rows }

    /// - Parameter integer: compute in INT8; `weight` must then be INT8.
    init(weight: WeightMatrix, bias: [Float], integer: Bool = false) throws {
        guard bias.count == weight.rows else {
            throw WeightsError(.invalidArgument,
                "bias has \(bias.count) values for a weight of \(weight.rows) rows")
        }
        self.weight = weight
        self.bias = bias
        if integer {
            guard weight.columns <= PackedInt8Matrix.maximumColumns else {
                throw WeightsError(.limitExceeded,
                    "INT8 arithmetic takes layers of at most \(PackedInt8Matrix.maximumColumns) inputs, not \(weight.columns)")
            }
            guard let packed = weight.packedInt8() else {
                throw WeightsError(.invalidArgument, "INT8 arithmetic needs INT8 weights, not \(weight.precision)")
            }
            self.integer = packed
        } else {
            self.integer = nil
        }
    }

    /// Writes `rows` outputs (each `outputSize` wide) into `output`, without the bias: callers
    /// add it in the pass that follows (activation, residual), which saves a pass over memory.
    ///
    /// With `threads` > 1 the output columns (rows of W) are shared out, one product per
    /// thread. The float path uses `workspace.weightScratch` (`outputSize × inputSize` floats)
    /// only without ``MatrixProduct/isAccelerated``; the integer path quantizes `input` into
    /// `workspace.activationLevels` first, unless `inputQuantized` says an earlier layer with
    /// the same input left it there.
    ///
    /// - Complexity: O(rows × in × out).
    func multiply(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>,
                  _ workspace: Workspace, threads: Int = 1, inputQuantized: Bool = false) {
        // Sound: passes the caller's buffers on, under `product`'s contract.
        unsafe product(input, rows: rows, into: output, workspace, threads: threads, bias: false,
                       inputQuantized: inputQuantized)
    }

    /// y = x · Wᵀ + b; arguments as for ``multiply(_:rows:into:_:threads:inputQuantized:)``.
    func apply(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>,
               _ workspace: Workspace, threads: Int = 1, inputQuantized: Bool = false) {
        // Sound: passes the caller's buffers on, under `product`'s contract.
        unsafe product(input, rows: rows, into: output, workspace, threads: threads, bias: true,
                       inputQuantized: inputQuantized)
    }

    /// The caller lends `rows` × `inputSize` floats of input and `rows` × `outputSize` of
    /// output, and a workspace its encoder made for at least `rows` tokens.
    private func product(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>,
                         _ workspace: Workspace, threads: Int, bias addsBias: Bool, inputQuantized: Bool) {
        // Sound: the integer path quantizes into `activationLevels`, sized for the most bytes any
        // level takes for `tokens` ≥ rows rows of the widest layer (≥ inputSize), and one scale
        // per token; each share of columns starts on a panel and ends by `outputSize`, and `bias`
        // has `outputSize` values (init checks it). The float path hands the kernel k = inputSize,
        // n = the share's columns of W (`withOperand` lends exactly those rows) and C at column
        // `columns.lowerBound` with ldc = outputSize; the BLAS path reads the whole W, in place
        // (F32) or widened into `weightScratch`, which the encoder sized for its largest non-F32
        // float layer. The threads write disjoint columns of `output`.
        let inputSize = self.inputSize, outputSize = self.outputSize
        if let integer {
            if !inputQuantized {
                unsafe Int8Product.quantize(input, rows: rows, columns: inputSize, into: workspace.activationLevels,
                                            scales: workspace.activationScales, level: integer.level)
            }
            let panels = (outputSize + PackedInt8Matrix.panelWidth - 1) / PackedInt8Matrix.panelWidth
            unsafe bias.withUnsafeBufferPointer { bias in
                Parallel.forEach(min(threads, panels)) { part in
                    let share = Parallel.slice(panels, into: min(threads, panels), part: part)
                    let columns = share.lowerBound * PackedInt8Matrix.panelWidth
                        ..< min(share.upperBound * PackedInt8Matrix.panelWidth, outputSize)
                    guard !columns.isEmpty else { return }
                    unsafe Int8Product.multiply(workspace.activationLevels, scales: workspace.activationScales,
                                                rows: rows, integer, columns: columns,
                                                bias: addsBias ? bias.baseAddress : nil, into: output, ldc: outputSize)
                }
            }
            return
        }
        let scratch = unsafe workspace.weightScratch
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
        if addsBias {
            unsafe bias.withUnsafeBufferPointer { bias in
                unsafe Operations.addBias(UnsafeMutableBufferPointer(start: output, count: rows * outputSize), bias)
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
}
