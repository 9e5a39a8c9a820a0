import WeightsCore

/// The field planes of GGML block data (byte grouping 3, `blockFields`).
///
/// A quantized block holds fields of different kinds side by side: FP16 scales, packed
/// sub-block scales, 4-, 5-, 6- or 8-bit quants. Each kind has its own statistics, and mixed
/// they hide them from the compressor. Split, field *i* of every block goes into plane *i*, so
/// scales sit with scales and quants with quants; an FP16 scale splits into its low and its
/// high byte (the high byte holds the exponent). A chunk of *q* whole blocks and *r* more
/// bytes (the padding after a tensor) has one plane per field of *q* × width bytes, then a
/// plane of the *r* bytes as they are.
///
/// Measured on gemma-3-270m Q4_K_M at zstd level 3, whole tensors against split ones: Q8_0
/// 1.062× → 1.082×, Q5_0 1.000× → 1.041×, Q4_K 1.026× → 1.048×, Q6_K 1.000× → 1.031×.
enum BlockFields {
    /// The byte widths of the fields of a block of `type`, in block order, or `nil` for a type
    /// that is not split (plain types, and block types without a layout here).
    static func fields(for type: GGMLType) -> [Int]? {
        switch type {
        case .q4_0: [1, 1, 16]                       // d, qs
        case .q4_1: [1, 1, 1, 1, 16]                 // d, m, qs
        case .q5_0: [1, 1, 4, 16]                    // d, qh, qs
        case .q5_1: [1, 1, 1, 1, 4, 16]              // d, m, qh, qs
        case .q8_0: [1, 1, 32]                       // d, qs
        case .q2_K: [16, 64, 1, 1, 1, 1]             // scales, qs, d, dmin
        case .q3_K: [32, 64, 12, 1, 1]               // hmask, qs, scales, d
        case .q4_K: [1, 1, 1, 1, 12, 128]            // d, dmin, scales, qs
        case .q5_K: [1, 1, 1, 1, 12, 32, 128]        // d, dmin, scales, qh, qs
        case .q6_K: [128, 64, 16, 1, 1]              // ql, qh, scales, d
        default: nil
        }
    }

    /// The size of each plane of a chunk of `count` bytes: the fields over its whole blocks,
    /// then the bytes after them.
    static func planeSizes(fields: [Int], count: Int) -> [Int] {
        let block = fields.reduce(0, +)
        let blocks = count / block
        return fields.map { $0 * blocks } + [count - blocks * block]
    }

    // Sound: here and in `join`, both buffers hold `source.count` bytes (checked). The fields
    // are `fields(for:)`'s, all positive, so `transpose` hands out field `f` of block `i` at
    // `i·block + start(f)` and its plane copy at `plane(f) + i·f`, both ending at or before
    // `blocks·block <= count`, and the tail `blocks·block ..< count`.
    /// Writes the planes of `source` into `destination`, which has the same size.
    static func split(_ source: UnsafeRawBufferPointer, fields: [Int], into destination: UnsafeMutableRawBufferPointer) {
        precondition(source.count == destination.count)
        guard let from = source.baseAddress, let to = destination.baseAddress else { return }
        transpose(source.count, fields: fields) { block, field, plane in
            if field == 1 { unsafe to.storeBytes(of: from.load(fromByteOffset: block, as: UInt8.self), toByteOffset: plane, as: UInt8.self) }
            else { unsafe (to + plane).copyMemory(from: from + block, byteCount: field) }
        } tail: { offset, tail in
            unsafe (to + offset).copyMemory(from: from + offset, byteCount: tail)
        }
    }

    // Sound: see `split`.
    /// Reverses ``split(_:fields:into:)``.
    static func join(_ source: UnsafeRawBufferPointer, fields: [Int], into destination: UnsafeMutableRawBufferPointer) {
        precondition(source.count == destination.count)
        guard let from = source.baseAddress, let to = destination.baseAddress else { return }
        transpose(source.count, fields: fields) { block, field, plane in
            if field == 1 { unsafe to.storeBytes(of: from.load(fromByteOffset: plane, as: UInt8.self), toByteOffset: block, as: UInt8.self) }
            else { unsafe (to + block).copyMemory(from: from + plane, byteCount: field) }
        } tail: { offset, tail in
            unsafe (to + offset).copyMemory(from: from + offset, byteCount: tail)
        }
    }

    /// Calls `move(blockOffset, width, planeOffset)` for every field of every whole block of a
    /// chunk of `count` bytes, then `tail(offset, length)` for the bytes after the blocks
    /// (which sit at the same offset in both layouts).
    @inline(__always)
    private static func transpose(_ count: Int, fields: [Int], _ move: (Int, Int, Int) -> Void, tail: (Int, Int) -> Void) {
        guard count > 0 else { return }
        let block = fields.reduce(0, +)
        let blocks = count / block
        var planeStart = 0, fieldStart = 0
        for field in fields {
            for index in 0..<blocks {
                move(index &* block &+ fieldStart, field, planeStart &+ index &* field)
            }
            planeStart += field * blocks
            fieldStart += field
        }
        if count > blocks * block { tail(blocks * block, count - blocks * block) }
    }
}
