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
/// wq.multiply(x, into: &q, threads: 2)
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
        /// Activations are quantized to 8 bits per block (as llama.cpp does): faster, with
        /// about 1% error per product.
        case quantizedActivations
    }

    /// - Throws: `invalidData` naming the tensor when it is not a matrix, or its type can be
    ///   neither multiplied nor decoded.
    package init(_ tensor: GGUFTensor) throws {
        guard tensor.dimensions.count == 2 else {
            throw WeightsError(.invalidData, "tensor '\(tensor.name)' has \(tensor.dimensions.count) dimensions, not 2",
                               tensor: tensor.name)
        }
        self.tensor = tensor
        columns = tensor.dimensions[0]
        rows = tensor.dimensions[1]
        rowBytes = columns / tensor.type.blockSize * tensor.type.typeSize
        let code = Int32(tensor.type.rawValue)
        kernelType = weights_quantized_block_elements(code) > 0 ? code : nil
        guard kernelType != nil || tensor.type.canDequantize else {
            throw WeightsError(.unsupportedFormat, "tensor '\(tensor.name)' is \(tensor.type), which cannot be decoded",
                               tensor: tensor.name)
        }
    }

    /// y = W x for the rows `rows` of the matrix (all by default), split over `threads`.
    ///
    /// - Precondition: `x.count == columns`, `y.count == rows.count`.
    package func multiply(_ x: [Float], into y: inout [Float], rows range: Range<Int>? = nil,
                          precision: Precision = .exact, threads: Int = 1) {
        let range = range ?? 0..<rows
        precondition(x.count == columns && y.count == range.count, "matrix and vectors disagree")
        let activations: [UInt8]
        if let kernelType, precision == .quantizedActivations {
            var quantized = [UInt8](repeating: 0, count: weights_quantized_activation_size(kernelType, columns))
            unsafe quantized.withUnsafeMutableBytes { out in
                unsafe x.withUnsafeBufferPointer { _ = unsafe weights_quantize_activations(kernelType, $0.baseAddress, columns, out.baseAddress) }
            }
            activations = quantized
        } else {
            activations = []
        }
        let workers = max(1, min(threads, range.count / 64))
        let chunk = (range.count + workers - 1) / workers
        unsafe y.withUnsafeMutableBufferPointer { output in
            let output = unsafe UncheckedSendable(output)
            ParallelChunks.run(jobs: workers, threads: workers, state: { [Float]() }) { scratch, job in
                let begin = job * chunk, end = min(range.count, begin + chunk)
                guard begin < end else { return }
                unsafe multiplyRows(range.lowerBound + begin..<range.lowerBound + end, x, activations,
                             into: UnsafeMutableBufferPointer(rebasing: output.value[begin..<end]), scratch: &scratch)
            }
        }
    }

    private func multiplyRows(_ rowRange: Range<Int>, _ x: [Float], _ activations: [UInt8],
                              into out: UnsafeMutableBufferPointer<Float>, scratch: inout [Float]) {
        unsafe tensor.withUnsafeBytes { bytes in
            let base = unsafe bytes.baseAddress! + rowRange.lowerBound * rowBytes
            if let kernelType {
                if activations.isEmpty {
                    unsafe x.withUnsafeBufferPointer {
                        _ = unsafe weights_quantized_matvec_f32(kernelType, base, rowBytes, rowRange.count, columns,
                                                         $0.baseAddress, out.baseAddress, Int32(WEIGHTS_KERNEL_BEST))
                    }
                } else {
                    unsafe activations.withUnsafeBytes {
                        _ = unsafe weights_quantized_matvec(kernelType, base, rowBytes, rowRange.count, columns,
                                                     $0.baseAddress, out.baseAddress, Int32(WEIGHTS_KERNEL_BEST))
                    }
                }
                return
            }
            // Other types: widen each row, then a plain dot product.
            let blocksPerRow = columns / tensor.type.blockSize
            for (offset, row) in rowRange.enumerated() {
                scratch = (try? tensor.dequantized(blocks: row * blocksPerRow..<(row + 1) * blocksPerRow)) ?? []
                var sum: Float = 0
                for index in 0..<min(scratch.count, columns) { sum += scratch[index] * x[index] }
                unsafe out[offset] = sum
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
