import CWeightsSIMD
import WeightsCore

/// A weight matrix of a GGUF file used where it lies: rows of ggml blocks in the mapping,
/// multiplied without a widened copy.
///
/// GGUF stores a `[rows, columns]` matrix with dimensions `[columns, rows]`, each row a run of
/// blocks. Q8_0, Q5_0, Q4_K and Q6_K rows go through the C kernels; any other type the
/// dequantizer decodes is widened one row at a time.
///
/// ```swift
/// let wq = try QuantizedMatrix(file.tensor(named: "blk.0.attn_q.weight"))   // 1024 × 640, Q5_0
/// wq.multiply(&h, into: &q, precision: .quantizedActivations, pool: pool)
/// ```
package struct QuantizedMatrix: @unchecked Sendable {
    package let tensor: GGUFTensor
    package let rows: Int
    package let columns: Int
    private let rowBytes: Int
    /// The C kernels' type id, or `nil` when rows are widened by the dequantizer.
    private let kernelType: Int32?

    /// How activations meet the weights.
    package enum Precision: Sendable {
        /// Activations stay binary32; weights are widened block by block in registers.
        case exact
        /// Activations are quantized to 8 bits per 32 values, once per vector, and the
        /// blocks' products summed in integers: several times faster, with about 1% error
        /// per product.
        case quantizedActivations
    }

    /// - Throws: `invalidData` naming the tensor when it is not a matrix or its bytes do not
    ///   hold its rows; `unsupportedFormat` when its type can be neither multiplied nor decoded.
    package init(_ tensor: GGUFTensor) throws {
        guard tensor.dimensions.count == 2 else {
            throw WeightsError(.invalidData, "tensor '\(tensor.name)' has \(tensor.dimensions.count) dimensions, not 2",
                               tensor: tensor.name)
        }
        self.tensor = tensor
        columns = tensor.dimensions[0]
        rows = tensor.dimensions[1]
        rowBytes = columns / tensor.type.blockSize * tensor.type.typeSize
        // A file's own entries agree with their bytes (GGUFFile checks), but `GGUFTensorInfo`
        // is public and settable: the kernels read rows × rowBytes bytes, so check they are there.
        let (needed, overflow) = rows.multipliedReportingOverflow(by: rowBytes)
        guard columns >= 0, rows >= 0, columns % tensor.type.blockSize == 0, !overflow, needed <= tensor.byteCount else {
            throw WeightsError(.invalidData,
                "tensor '\(tensor.name)' of \(tensor.byteCount) bytes cannot hold \(rows) rows of \(columns) \(tensor.type) values",
                tensor: tensor.name)
        }
        let code = Int32(tensor.type.rawValue)
        kernelType = weights_quantized_block_elements(code) > 0 ? code : nil
        guard kernelType != nil || tensor.type.canDequantize else {
            throw WeightsError(.unsupportedFormat, "tensor '\(tensor.name)' is \(tensor.type), which cannot be decoded",
                               tensor: tensor.name)
        }
    }

    /// y = W x for each of the `x.count` tokens: `y` gets `x.count` rows of `rows` floats.
    /// The weight rows are split over the pool's threads; each reads its rows once per tile
    /// of tokens (as many as 256 KB of their quantized activations hold, at least 64).
    ///
    /// - Precondition: `x.columns == columns`, `x.values.count >= x.count × columns`,
    ///   `y.count >= x.count × rows`.
    package func multiply(_ x: inout ActivationRows, into y: inout [Float], precision: Precision = .exact,
                          pool: WorkerPool? = nil) {
        precondition(x.columns == columns && x.values.count >= x.count * columns && y.count >= x.count * rows,
                     "matrix and vectors disagree")
        let tokens = x.count
        let quantized: (bytes: [UInt8], stride: Int)? =
            kernelType.map { precision == .quantizedActivations ? x.blocks(for: $0) : nil } ?? nil
        let values = x.values
        // Row ranges a multiple of 16 long (whole row groups of the kernels' 2-row × 4-token
        // tiles), four per thread, so that a thread the scheduler runs late leaves its share
        // to the others.
        let threads = pool?.threads ?? 1
        let parts = threads == 1 ? 1 : max(1, min(4 * threads, rows / 32))
        let chunk = (rows / parts + 15) / 16 * 16
        // Sound: the parts write disjoint rows of `y`, which holds tokens × rows floats (checked
        // above) and outlives `run`.
        unsafe y.withUnsafeMutableBufferPointer { output in
            let output = unsafe UncheckedSendable(output)
            let run = { (part: Int) in
                let begin = part * chunk, end = min(rows, begin + chunk)
                guard begin < end else { return }
                unsafe multiplyRows(begin..<end, tokens: tokens, values, quantized, into: output.value)
            }
            if let pool, parts > 1 { pool.run(jobs: parts, run) } else { for part in 0..<parts { run(part) } }
        }
    }

    /// Rows `rowRange` for every token: out[t × rows + r].
    private func multiplyRows(_ rowRange: Range<Int>, tokens: Int, _ x: [Float], _ quantized: (bytes: [UInt8], stride: Int)?,
                              into out: UnsafeMutableBufferPointer<Float>) {
        // Sound: the tensor, held by `self`, lends its mapped bytes for the call, which init
        // checked hold rows × rowBytes bytes (`columns` a whole number of blocks); rowRange
        // lies in 0..<rows. `out` holds tokens × rows floats, written
        // at t × rows + r; `x` holds tokens × columns floats and `quantized` tokens × stride
        // bytes (`multiply` checked both). The kernels read unaligned and write only `out`.
        unsafe tensor.withUnsafeBytes { bytes in
            let base = unsafe bytes.baseAddress! + rowRange.lowerBound * rowBytes
            let target = unsafe out.baseAddress! + rowRange.lowerBound
            if let kernelType {
                if let quantized {
                    unsafe quantized.bytes.withUnsafeBytes {
                        _ = unsafe weights_quantized_matmul(kernelType, base, rowBytes, rowRange.count, columns,
                                                            $0.baseAddress, quantized.stride, tokens, target, rows,
                                                            Int32(WEIGHTS_KERNEL_BEST))
                    }
                } else {
                    unsafe x.withUnsafeBufferPointer {
                        _ = unsafe weights_quantized_matmul_f32(kernelType, base, rowBytes, rowRange.count, columns,
                                                                $0.baseAddress, columns, tokens, target, rows,
                                                                Int32(WEIGHTS_KERNEL_BEST))
                    }
                }
                return
            }
            // Other types: widen each row, then plain dot products.
            let blocksPerRow = columns / tensor.type.blockSize
            for row in rowRange {
                let widened = (try? tensor.dequantized(blocks: row * blocksPerRow..<(row + 1) * blocksPerRow)) ?? []
                for token in 0..<tokens {
                    var sum: Float = 0
                    for index in 0..<min(widened.count, columns) { sum += widened[index] * x[token * columns + index] }
                    unsafe out[token * rows + row] = sum
                }
            }
        }
    }

    /// Row `row` widened to binary32: an embedding lookup.
    package func row(_ row: Int) throws -> [Float] {
        let blocksPerRow = columns / tensor.type.blockSize
        return try tensor.dequantized(blocks: row * blocksPerRow..<(row + 1) * blocksPerRow)
    }
}

/// A value handed across threads whose accesses are kept apart by construction (each job
/// writes its own rows).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
