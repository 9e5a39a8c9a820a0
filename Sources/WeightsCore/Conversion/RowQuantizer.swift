/// Streams one tensor's INT8 values or scales, in blocks of whole rows (or, for rows longer
/// than a chunk, row by row in pieces).
struct RowQuantizer {
    let tensor: Tensor
    let format: FloatFormat
    let rows: Int
    let rowLength: Int
    /// Rows per block when a block holds whole rows; 0 when rows are longer than a chunk.
    let rowsPerBlock: Int

    init(tensor: Tensor, format: FloatFormat) {
        self.tensor = tensor
        self.format = format
        self.rows = tensor.shape[0]
        self.rowLength = rows == 0 ? 0 : tensor.elementCount / rows
        self.rowsPerBlock = rowLength == 0 ? max(rows, 1) : TensorConverter.chunkElements / rowLength
    }

    /// Writes the F32 scale of every row.
    func streamScales(into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let scales = try self.scales()
        unsafe try scales.withUnsafeBytes { unsafe try sink($0) }  // Sound: consumed inside the closure.
    }

    /// Every row's scale, in one pass over the tensor.
    func scales() throws -> [Float] {
        var scales = [Float](repeating: 0, count: rows)
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: min(max(rowLength, 1), TensorConverter.chunkElements))
        // Sound: freed once, on return; each piece is at most `scratch.count` elements of a row.
        defer { unsafe scratch.deallocate() }
        for row in 0..<rows {
            var largest: Float = 0
            var start = 0
            while start < rowLength {
                let length = min(rowLength - start, scratch.count)
                guard let piece = unsafe Int8Quantization.largestMagnitude(floats(row * rowLength + start, count: length, scratch: scratch)) else {
                    throw WeightsError(.invalidData,
                        "tensor '\(tensor.name)' row \(row) holds NaN or infinity, which INT8 cannot scale", tensor: tensor.name)
                }
                largest = max(largest, piece)
                start += length
            }
            scales[row] = Int8Quantization.scale(forLargestMagnitude: largest)
        }
        return scales
    }

    /// Writes the I8 values of every row, measuring their dequantized error when asked.
    func streamValues(accuracy: inout AccuracyAccumulator?,
                      into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let scales = try self.scales()
        let chunk = TensorConverter.chunkElements
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: 2 * chunk)
        let restored = UnsafeMutableBufferPointer<Float>.allocate(capacity: accuracy == nil ? 0 : chunk)
        let output = UnsafeMutableBufferPointer<Int8>.allocate(capacity: 2 * chunk)
        // Sound: the buffers are freed once, on return, after the pipeline has finished; each
        // of its two slots (0 or 1) owns `chunk` elements of `scratch` and `output`, and a piece
        // is at most `chunk` elements, rows within it; `restored` holds one row's piece.
        defer {
            unsafe scratch.deallocate()
            unsafe restored.deallocate()
            unsafe output.deallocate()
        }
        // A piece: rows `rows` of a block, or elements `start..<end` of one long row.
        let pieces: [(row: Int, start: Int, end: Int)] = rowsPerBlock > 0
            ? stride(from: 0, to: rows, by: rowsPerBlock).map { ($0, $0 * rowLength, min(rows, $0 + rowsPerBlock) * rowLength) }
            : (0..<rows).flatMap { row in
                stride(from: 0, to: rowLength, by: chunk).map { (row, row * rowLength + $0, row * rowLength + min(rowLength, $0 + chunk)) }
            }
        unsafe try ChunkPipeline.run(chunkCount: pieces.count, produce: { index, slot in
            let piece = pieces[index]
            let count = piece.end - piece.start
            let slotScratch = unsafe UnsafeMutableBufferPointer(rebasing: scratch[slot * chunk..<(slot + 1) * chunk])
            let values = unsafe floats(piece.start, count: count, scratch: slotScratch)
            let levels = unsafe UnsafeMutableBufferPointer(rebasing: output[slot * chunk..<slot * chunk + count])
            var offset = 0
            while offset < count {
                let row = (piece.start + offset) / rowLength
                let length = min(count - offset, (row + 1) * rowLength - (piece.start + offset))
                let rowValues = unsafe UnsafeBufferPointer(rebasing: values[offset..<offset + length])
                let rowLevels = unsafe UnsafeMutableBufferPointer(rebasing: levels[offset..<offset + length])
                unsafe Int8Quantization.quantize(rowValues, scale: scales[row], into: rowLevels)
                if accuracy != nil {
                    let back = unsafe UnsafeMutableBufferPointer(rebasing: restored[0..<length])
                    for index in 0..<length { unsafe back[index] = unsafe Float(rowLevels[index]) * scales[row] }
                    unsafe accuracy!.add(reference: rowValues, approximation: UnsafeBufferPointer(back))
                }
                offset += length
            }
            return UnsafeRawBufferPointer(levels)
        }, consume: unsafe sink)
    }

    /// Elements `start..<start+count` as `Float`: the mapped bytes themselves for aligned F32,
    /// otherwise widened into `scratch` (F64 rounds to nearest).
    private func floats(_ start: Int, count: Int, scratch: UnsafeMutableBufferPointer<Float>) -> UnsafeBufferPointer<Float> {
        // Sound: the elements lie in the tensor (its bytes span its shape); the pointer into
        // them outlives the closure but not `self`, which holds the tensor, and the callers use
        // it only during their own call on `self`. `scratch` holds at least `count`.
        unsafe tensor.withUnsafeBytes { bytes in
            let width = format.byteWidth
            let slice = unsafe UnsafeRawBufferPointer(rebasing: bytes[start * width..<(start + count) * width])
            if format == .f32, let base = slice.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
                return unsafe UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: count)
            }
            let target = unsafe UnsafeMutableBufferPointer(rebasing: scratch[0..<count])
            unsafe FloatFormat.convert(slice, from: format, to: .f32, into: UnsafeMutableRawBufferPointer(target))
            return UnsafeBufferPointer(target)
        }
    }
}
