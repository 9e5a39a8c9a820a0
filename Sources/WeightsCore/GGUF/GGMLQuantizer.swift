/// Encoding float32 values into ggml blocks, the inverse of ``GGUFTensor/dequantized(blocks:kernel:)``.
///
/// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4, TQ1_0 and TQ2_0 give the same bytes as gguf-py 0.19's
/// `gguf.quants.quantize`: each step is one float32 operation in the order its NumPy code
/// applies them, with NumPy's rounding and casts. Q4_K and Q6_K follow llama.cpp's reference
/// quantizers (`quantize_row_q4_K_ref`, `quantize_row_q6_K_ref`, no importance matrix).
/// F32, F16 and BF16 round each value once to nearest, ties to even (BF16 as gguf-py does it:
/// a NaN stays a quiet NaN). Spec/gguf.md, section 6, gives each formula.
///
/// Values come in storage order, rows of `dimensions[0]` elements one after another; only
/// whole blocks are encoded, so the count must be a multiple of the type's block size.
///
/// ```swift
/// let row: [Float] = (0..<64).map { Float($0) / 8 }
/// let blocks = try GGMLQuantizer.quantize(row, as: .q8_0)     // 2 blocks, 68 bytes
/// let back = try GGUFFile(...)                                  // or decode with GGMLDequantizer
/// ```
///
/// - Complexity: O(*n*) in the values; Q4_K and Q6_K do a fixed search per block (about 20
///   and 19 passes over it).
public enum GGMLQuantizer {
    /// The types ``quantize(_:as:into:file:tensor:)`` encodes.
    public static let quantizableTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .mxfp4,
                                                      .tq1_0, .tq2_0, .q4_K, .q6_K]

    /// Whether ``quantize(_:as:into:file:tensor:)`` encodes `type`.
    public static func canQuantize(_ type: GGMLType) -> Bool { quantizableTypes.contains(type) }

    /// Encodes `values` as blocks of `type` into `output`, which must hold exactly
    /// `values.count / type.blockSize × type.typeSize` bytes.
    ///
    /// - Parameters:
    ///   - values: The elements, a whole number of blocks of `type`.
    ///   - type: The block format to write.
    ///   - output: Where the blocks go.
    ///   - file: Named in errors.
    ///   - tensor: Named in errors.
    /// - Throws: `unsupportedFormat` for a type not in ``quantizableTypes``; `invalidArgument`
    ///   when the count is not whole blocks or `output` is of another size; `invalidData`
    ///   naming the element when a block format is given a NaN or an infinity (a block's
    ///   scale cannot represent them; F32, F16 and BF16 keep them).
    public static func quantize(_ values: UnsafeBufferPointer<Float>, as type: GGMLType, into output: UnsafeMutableRawBufferPointer,
                                file: String? = nil, tensor: String? = nil) throws(WeightsError) {
        guard canQuantize(type) else {
            throw WeightsError(.unsupportedFormat, "quantizing to \(type) is not implemented; types: \(quantizableTypes.map(\.name).joined(separator: ", "))",
                               file: file, tensor: tensor)
        }
        guard values.count % type.blockSize == 0 else {
            throw WeightsError(.invalidArgument, "\(values.count) values are not a whole number of \(type) blocks of \(type.blockSize)",
                               file: file, tensor: tensor)
        }
        let blocks = values.count / type.blockSize
        guard output.count == blocks * type.typeSize else {
            throw WeightsError(.invalidArgument, "\(values.count) values of \(type) take \(blocks * type.typeSize) bytes, not \(output.count)",
                               file: file, tensor: tensor)
        }
        guard blocks > 0, let x = values.baseAddress, let out = output.baseAddress else { return }
        // Sound: reads the caller's values, valid for the call, at indices from `firstIndex`.
        if type.isQuantized, let bad = unsafe values.firstIndex(where: { !$0.isFinite }) {
            throw WeightsError(.invalidData, "element \(bad) is \(unsafe values[bad]), which \(type) cannot encode", file: file, tensor: tensor)
        }
        // Blocks are independent: large inputs are split over the cores, a few thousand blocks a job.
        let jobBlocks = max(1, (1 << 16) / type.blockSize)
        let jobs = (blocks + jobBlocks - 1) / jobBlocks
        let threads = values.count >= 1 << 18 ? ParallelChunks.availableCores : 1
        ParallelChunks.run(jobs: jobs, threads: threads, state: { KQuantScratch() }) { scratch, job in
            let range = job * jobBlocks..<min(blocks, (job + 1) * jobBlocks)
            // Sound: every job reads the shared input and writes only its own blocks of `out`.
            unsafe encode(type, x, out, range, &scratch)
        }
    }

    /// Encodes `blocks` of the values at `x` into the blocks at `out`; `type` is one of
    /// ``quantizableTypes`` and the caller checked both sizes.
    private static func encode(_ type: GGMLType, _ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, _ blocks: Range<Int>,
                               _ scratch: inout KQuantScratch) {
        let size = type.typeSize, count = type.blockSize
        // Sound: the caller checked that `x` holds `count` values per block and `out` `size`
        // bytes per block, for every block of `blocks`; each encoder reads one block of values
        // and writes one block's bytes at the offsets of its layout.
        switch type {
        case .f32:
            for i in blocks { unsafe out.storeBytes(of: x[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .f16:
            for i in blocks { unsafe out.storeBytes(of: Float16(x[i]).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            for i in blocks { unsafe out.storeBytes(of: bfloat16Bits(x[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .q8_0: for b in blocks { unsafe q8_0(x + count * b, out + size * b) }
        case .q4_0: for b in blocks { unsafe q4_0(x + count * b, out + size * b) }
        case .q4_1: for b in blocks { unsafe q4_1(x + count * b, out + size * b) }
        case .q5_0: for b in blocks { unsafe q5_0(x + count * b, out + size * b) }
        case .q5_1: for b in blocks { unsafe q5_1(x + count * b, out + size * b) }
        case .mxfp4: for b in blocks { unsafe mxfp4(x + count * b, out + size * b) }
        case .tq1_0: for b in blocks { unsafe tq1_0(x + count * b, out + size * b) }
        case .tq2_0: for b in blocks { unsafe tq2_0(x + count * b, out + size * b) }
        case .q4_K: for b in blocks { unsafe q4_K(x + count * b, out + size * b, &scratch) }
        case .q6_K: for b in blocks { unsafe q6_K(x + count * b, out + size * b, &scratch) }
        default: break   // quantize(_:as:into:) refused it
        }
    }

    /// `values` encoded as blocks of `type`.
    ///
    /// - Complexity: O(*n*); one allocation, for the result.
    /// - Throws: as ``quantize(_:as:into:file:tensor:)``.
    public static func quantize(_ values: [Float], as type: GGMLType) throws(WeightsError) -> [UInt8] {
        let count = values.count % type.blockSize == 0 ? values.count / type.blockSize * type.typeSize : 0
        var bytes = [UInt8](repeating: 0, count: count)
        var failure: WeightsError?
        // Sound: both buffers are used only inside the closures; the sizes are checked by the
        // quantizer, which throws (leaving the zeros) when they disagree.
        unsafe values.withUnsafeBufferPointer { input in
            unsafe bytes.withUnsafeMutableBytes { output in
                do throws(WeightsError) { unsafe try quantize(input, as: type, into: output) } catch { failure = error }
            }
        }
        if let failure { throw failure }
        return bytes
    }

    // MARK: Shared steps

    /// NumPy's cast of a float32 to `uint8` or `int8` on x86-64: a truncating conversion to
    /// Int32 (where NaN and values outside its range become Int32.min), of which the low byte
    /// is kept. Only blocks whose scale over- or underflows reach the edge cases.
    @inline(__always) static func numpyByte(_ value: Float) -> UInt8 {
        guard value > -2_147_483_904, value < 2_147_483_648 else { return 0 }   // NaN fails both
        return UInt8(truncatingIfNeeded: Int32(value))
    }

    /// The nearest `Float16` (ties to even; overflow gives infinity), as its bits.
    @inline(__always) static func halfBits(_ value: Float) -> UInt16 { Float16(value).bitPattern }

    /// A half's bits widened to `Float` (exact).
    @inline(__always) static func widen(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// gguf-py's BF16 rounding (ggml's `ggml_compute_fp32_to_bf16`): a NaN keeps its sign and
    /// top bits and is made quiet; everything else rounds to nearest, ties to even.
    @inline(__always) static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16((bits & 0xFFFF_0000 | 0x0040_0000) >> 16) }
        return UInt16(truncatingIfNeeded: (UInt64(bits) + UInt64(0x7FFF + ((bits >> 16) & 1))) >> 16)
    }

    // Sound: the stores write at `p + offset`, which every encoder keeps inside its block;
    // `storeBytes` needs no alignment for these trivial types.
    @inline(__always) static func store(_ value: UInt16, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        unsafe p.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inline(__always) static func store(_ value: UInt32, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        unsafe p.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)  // Sound: as above.
    }

    @inline(__always) static func store(_ value: UInt8, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        unsafe p.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)  // Sound: as above.
    }
}
