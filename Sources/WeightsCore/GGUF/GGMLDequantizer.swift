import CWeightsSIMD

/// Decoding ggml blocks to `Float`, with the arithmetic of gguf-py's `gguf.quants.dequantize`.
///
/// Each kernel is a plain loop over the mapped bytes: loads are unaligned (GGUF blocks sit at
/// any byte), there is no allocation per block or element, and every product and sum is one
/// `Float` operation in the order gguf-py's NumPy code applies them (scale × sub-scale, then
/// × quant, then − minimum), so that the results are the same bits. Spec/gguf.md gives each
/// format's layout and formula.
///
/// The legacy 32-element formats, Q2_K to Q6_K, F16, BF16, IQ4_NL, TQ1_0, TQ2_0 and the IQ2
/// and IQ3 formats also have AVX2 + F16C kernels (CWeightsSIMD's ggml_dequantize.c), chosen
/// at run time, with the same operations in the same order and no fused multiply-add: the
/// loops here are their portable fallback and give the same bits.
enum GGMLDequantizer {
    /// Decodes `source`, whole blocks of `type`, into `output`, which holds exactly the
    /// blocks' elements, on up to `threads` threads (all cores by default; tensors under
    /// 256 Ki elements use one).
    ///
    /// - Complexity: O(*n*) in the elements.
    /// - Throws: `unsupportedFormat` for types not decoded; `invalidArgument` when the sizes
    ///   disagree.
    static func dequantize(_ type: GGMLType, _ source: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Float>,
                           threads: Int? = nil, kernel: ConversionKernel = .best,
                           file: String? = nil, tensor: String? = nil) throws(WeightsError) {
        let blocks = source.count / type.typeSize
        guard source.count % type.typeSize == 0, output.count == blocks * type.blockSize else {
            throw WeightsError(.invalidArgument,
                "\(tensor.map { "tensor '\($0)': " } ?? "")\(source.count) bytes of \(type) do not decode into \(output.count) floats",
                file: file, tensor: tensor)
        }
        guard blocks > 0, let src = source.baseAddress, let out = output.baseAddress else { return }
        guard type.canDequantize else {
            throw WeightsError(.unsupportedFormat, "\(tensor.map { "tensor '\($0)': " } ?? "")dequantizing \(type) is not implemented",
                               file: file, tensor: tensor)
        }
        // Blocks are independent: a large tensor is split over the cores, 64 Ki elements a job.
        let jobBlocks = max(1, (1 << 16) / type.blockSize)
        let jobs = (blocks + jobBlocks - 1) / jobBlocks
        let threads = output.count >= 1 << 18 ? max(1, threads ?? ParallelChunks.availableCores) : 1
        let code = Int32(type.rawValue), kernelCode = kernel.code
        // An output of 32 MiB or more (a last-level cache's size) goes around the caches: with
        // ordinary stores each line is read in before it is written, and evicts what it meets.
        let streaming = output.count >= 1 << 23
        // Sound: the grid and sign tables are borrowed for the whole run, and the grid kernels
        // index them only as the portable loops do (entries below each grid's count, checked
        // by GGMLGrid.expand; sign indices below 128).
        unsafe GGMLGrid.withTable(for: type) { grid in
            unsafe GGMLGrid.signs.withUnsafeBufferPointer { signs in
                ParallelChunks.run(jobs: jobs, threads: threads, state: { () }) { _, job in
                    let first = job * jobBlocks, count = min(jobBlocks, blocks - first)
                    // Sound: every job reads its own `count` blocks, inside `source` (whole blocks,
                    // checked above), and writes only their elements of `out`, inside `output`;
                    // both buffers outlive the call, which returns after every job.
                    let blockSource = unsafe src + first * type.typeSize, blockOutput = unsafe out + first * type.blockSize
                    if let grid = unsafe grid {
                        if unsafe weights_ggml_dequantize_grid(code, blockSource, count, blockOutput, streaming, kernelCode,
                                                               grid, signs.baseAddress) { return }
                    } else if unsafe weights_ggml_dequantize(code, blockSource, count, blockOutput, streaming, kernelCode) {
                        return
                    }
                    unsafe decode(type, blockSource, count, blockOutput)
                }
            }
        }
    }

    /// Decodes `blocks` blocks of `type` (one ``GGMLType/canDequantize`` accepts) at `src` into `out`.
    private static func decode(_ type: GGMLType, _ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: `src` holds `blocks` whole blocks of `type` and `out` their elements (the
        // caller checked both sizes); each case reads and writes only those, a block at a time.
        switch type {
        case .f32: for i in 0..<blocks { unsafe out[i] = unsafe Float(bitPattern: u32(src, 4 * i)) }
        case .f16: for i in 0..<blocks { unsafe out[i] = unsafe f16(src, 2 * i) }
        case .bf16: for i in 0..<blocks { unsafe out[i] = unsafe Float(bitPattern: UInt32(u16(src, 2 * i)) << 16) }
        case .f64: for i in 0..<blocks { unsafe out[i] = unsafe Float(Double(bitPattern: u64(src, 8 * i))) }
        case .i8: for i in 0..<blocks { unsafe out[i] = unsafe Float(Int8(bitPattern: src.load(fromByteOffset: i, as: UInt8.self))) }
        case .i16: for i in 0..<blocks { unsafe out[i] = unsafe Float(Int16(bitPattern: u16(src, 2 * i))) }
        case .i32: for i in 0..<blocks { unsafe out[i] = unsafe Float(Int32(bitPattern: u32(src, 4 * i))) }
        case .i64: for i in 0..<blocks { unsafe out[i] = unsafe Float(Int64(bitPattern: u64(src, 8 * i))) }
        case .q4_0: unsafe q4_0(src, blocks, out)
        case .q4_1: unsafe q4_1(src, blocks, out)
        case .q5_0: unsafe q5_0(src, blocks, out)
        case .q5_1: unsafe q5_1(src, blocks, out)
        case .q8_0: unsafe q8_0(src, blocks, out)
        case .q2_K: unsafe q2_K(src, blocks, out)
        case .q3_K: unsafe q3_K(src, blocks, out)
        case .q4_K: unsafe q4_K(src, blocks, out)
        case .q5_K: unsafe q5_K(src, blocks, out)
        case .q6_K: unsafe q6_K(src, blocks, out)
        case .q8_K: unsafe q8_K(src, blocks, out)
        case .iq4_NL: unsafe iq4_NL(src, blocks, out)
        case .iq4_XS: unsafe iq4_XS(src, blocks, out)
        case .mxfp4: unsafe mxfp4(src, blocks, out)
        case .nvfp4: unsafe nvfp4(src, blocks, out)
        case .tq1_0: unsafe tq1_0(src, blocks, out)
        case .tq2_0: unsafe tq2_0(src, blocks, out)
        case .iq2_XXS: unsafe iq2_XXS(src, blocks, out)
        case .iq2_XS: unsafe iq2_XS(src, blocks, out)
        case .iq2_S: unsafe iq2_S(src, blocks, out)
        case .iq3_XXS: unsafe iq3_XXS(src, blocks, out)
        case .iq3_S: unsafe iq3_S(src, blocks, out)
        case .iq1_S: unsafe iq1_S(src, blocks, out)
        case .iq1_M: unsafe iq1_M(src, blocks, out)
        case .q8_1, .q1_0:
            break   // dequantize(_:_:into:file:tensor:) refused them
        }
    }

    // MARK: Loads

    // Sound: the loads read at `p + offset`, which every kernel keeps inside its block; any bit
    // pattern is a valid integer, and the unaligned forms need no alignment.
    @inline(__always) static func u8(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        unsafe p.load(fromByteOffset: offset, as: UInt8.self)
    }
    @inline(__always) static func i8(_ p: UnsafeRawPointer, _ offset: Int) -> Int8 {
        unsafe Int8(bitPattern: p.load(fromByteOffset: offset, as: UInt8.self))
    }
    @inline(__always) static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        unsafe UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inline(__always) static func u32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        unsafe UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) static func u64(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        unsafe UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    /// An IEEE half at `offset`, widened (exactly) to `Float`.
    @inline(__always) static func f16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        unsafe widen(u16(p, offset))
    }

    /// The half with bits `h`, widened exactly. A NaN keeps its payload unquieted, as NumPy's
    /// conversion does (the hardware conversion would set the quiet bit of a signaling NaN).
    @inline(__always) static func widen(_ h: UInt16) -> Float {
        if h & 0x7C00 == 0x7C00, h & 0x03FF != 0 {
            return Float(bitPattern: UInt32(h & 0x8000) << 16 | 0x7F80_0000 | UInt32(h & 0x03FF) << 13)
        }
        return Float(Float16(bitPattern: h))
    }

    // MARK: 32-element blocks

    /// 2 bytes f16 scale d, 16 bytes of nibbles: element j is the low nibble of byte j,
    /// element 16 + j the high nibble; x = d × (q − 8).
    static func q4_0(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 18 bytes (the type's typeSize) at src + 18·b, read at
        // offsets inside that layout, and writes only its 32 floats at out + 32·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 18, o = unsafe out + b * 32
            let d = unsafe f16(p, 0)
            for j in 0..<16 {
                let byte = unsafe u8(p, 2 + j)
                unsafe o[j] = d * Float(Int32(byte & 0x0F) - 8)
                unsafe o[j + 16] = d * Float(Int32(byte >> 4) - 8)
            }
        }
    }

    /// f16 d, f16 m, 16 bytes of nibbles as Q4_0; x = d × q + m.
    static func q4_1(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 20 bytes (the type's typeSize) at src + 20·b, read at
        // offsets inside that layout, and writes only its 32 floats at out + 32·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 20, o = unsafe out + b * 32
            let d = unsafe f16(p, 0), m = unsafe f16(p, 2)
            for j in 0..<16 {
                let byte = unsafe u8(p, 4 + j)
                unsafe o[j] = d * Float(byte & 0x0F) + m
                unsafe o[j + 16] = d * Float(byte >> 4) + m
            }
        }
    }

    /// f16 d, u32 of fifth bits (bit j for element j), 16 bytes of nibbles as Q4_0;
    /// x = d × (q − 16).
    static func q5_0(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 22 bytes (the type's typeSize) at src + 22·b, read at
        // offsets inside that layout, and writes only its 32 floats at out + 32·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 22, o = unsafe out + b * 32
            let d = unsafe f16(p, 0), high = unsafe u32(p, 2)
            for j in 0..<16 {
                let byte = unsafe UInt32(u8(p, 6 + j))
                let low = (byte & 0x0F) | ((high >> UInt32(j)) & 1) << 4
                let top = (byte >> 4) | ((high >> UInt32(j + 16)) & 1) << 4
                unsafe o[j] = d * Float(Int32(low) - 16)
                unsafe o[j + 16] = d * Float(Int32(top) - 16)
            }
        }
    }

    /// f16 d, f16 m, u32 of fifth bits, 16 bytes of nibbles; x = d × q + m.
    static func q5_1(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 24 bytes (the type's typeSize) at src + 24·b, read at
        // offsets inside that layout, and writes only its 32 floats at out + 32·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 24, o = unsafe out + b * 32
            let d = unsafe f16(p, 0), m = unsafe f16(p, 2), high = unsafe u32(p, 4)
            for j in 0..<16 {
                let byte = unsafe UInt32(u8(p, 8 + j))
                let low = (byte & 0x0F) | ((high >> UInt32(j)) & 1) << 4
                let top = (byte >> 4) | ((high >> UInt32(j + 16)) & 1) << 4
                unsafe o[j] = d * Float(low) + m
                unsafe o[j + 16] = d * Float(top) + m
            }
        }
    }

    /// f16 d, 32 signed bytes; x = q × d.
    static func q8_0(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 34 bytes (the type's typeSize) at src + 34·b, read at
        // offsets inside that layout, and writes only its 32 floats at out + 32·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 34, o = unsafe out + b * 32
            let d = unsafe f16(p, 0)
            for j in 0..<32 { unsafe o[j] = unsafe Float(i8(p, 2 + j)) * d }
        }
    }

    /// The IQ4_NL code book: a non-linear 4-bit grid, as signed bytes.
    static let iq4Values: [Float] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

    /// f16 d, 16 bytes of nibbles as Q4_0, each an index into ``iq4Values``; x = d × value.
    static func iq4_NL(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 18 bytes (the type's typeSize) at src + 18·b, read at
        // offsets inside that layout, and writes only its 32 floats at out + 32·b; nibble indices < 16 into the 16-entry iq4Values.
        unsafe iq4Values.withUnsafeBufferPointer { grid in
            for b in 0..<blocks {
                let p = unsafe src + b * 18, o = unsafe out + b * 32
                let d = unsafe f16(p, 0)
                for j in 0..<16 {
                    let byte = unsafe u8(p, 2 + j)
                    unsafe o[j] = unsafe d * grid[Int(byte & 0x0F)]
                    unsafe o[j + 16] = unsafe d * grid[Int(byte >> 4)]
                }
            }
        }
    }

    /// The E2M1 values doubled (the MX specification's FP4, times 2).
    static let fp4Values: [Float] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

    /// An E8M0 exponent byte as a power of two, halved (to undo ``fp4Values``' doubling):
    /// 2^(e − 128), built from its bits so that e = 0 and 1 give the subnormals 2^−128 and 2^−127.
    @inline(__always) static func e8m0Half(_ e: UInt8) -> Float {
        e < 2 ? Float(bitPattern: UInt32(0x0020_0000) << UInt32(e)) : Float(bitPattern: UInt32(e - 1) << 23)
    }

    /// 1 byte E8M0 exponent, 16 bytes of nibbles as Q4_0, each an FP4 code; x = d × value.
    static func mxfp4(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 17 bytes (the type's typeSize) at src + 17·b, read at
        // offsets inside that layout, and writes only its 32 floats at out + 32·b; nibble indices < 16 into the 16-entry fp4Values.
        unsafe fp4Values.withUnsafeBufferPointer { grid in
            for b in 0..<blocks {
                let p = unsafe src + b * 17, o = unsafe out + b * 32
                let d = unsafe e8m0Half(u8(p, 0))
                for j in 0..<16 {
                    let byte = unsafe u8(p, 1 + j)
                    unsafe o[j] = unsafe d * grid[Int(byte & 0x0F)]
                    unsafe o[j + 16] = unsafe d * grid[Int(byte >> 4)]
                }
            }
        }
    }

    /// An unsigned E4M3 scale (bias 7, no sign), halved; 0 and 0x7F decode to 0.
    @inline(__always) static func ue4m3Half(_ x: UInt8) -> Float {
        if x == 0 || x == 0x7F { return 0 }
        let exponent = Int((x >> 3) & 0x0F), mantissa = Float(x & 0x07)
        let value = exponent == 0 ? mantissa * 0x1p-9 : (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
        return value * 0.5
    }

    /// 64 elements in 4 groups of 16: 4 bytes of UE4M3 scales, then 8 bytes per group whose
    /// low nibbles are elements 0–7 and high nibbles 8–15, each an FP4 code; x = d × value.
    static func nvfp4(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 36 bytes (the type's typeSize) at src + 36·b, read at
        // offsets inside that layout, and writes only its 64 floats at out + 64·b; nibble indices < 16 into the 16-entry fp4Values.
        unsafe fp4Values.withUnsafeBufferPointer { grid in
            for b in 0..<blocks {
                let p = unsafe src + b * 36, o = unsafe out + b * 64
                for group in 0..<4 {
                    let d = unsafe ue4m3Half(u8(p, group))
                    for k in 0..<8 {
                        let byte = unsafe u8(p, 4 + group * 8 + k)
                        unsafe o[group * 16 + k] = unsafe d * grid[Int(byte & 0x0F)]
                        unsafe o[group * 16 + 8 + k] = unsafe d * grid[Int(byte >> 4)]
                    }
                }
            }
        }
    }

    // MARK: 256-element super-blocks

    /// 16 bytes of sub-block scales (low nibble scale, high nibble minimum), 64 bytes of 2-bit
    /// quants, f16 d, f16 dmin. Element 128h + 32s + l is bits 2s of byte 32h + l;
    /// x = (d × scale) × q − (dmin × min), per 16 elements.
    static func q2_K(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 84 bytes (the type's typeSize) at src + 84·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 84, o = unsafe out + b * 256
            let d = unsafe f16(p, 80), dmin = unsafe f16(p, 82)
            for half in 0..<2 {
                for shift in 0..<4 {
                    let base = half * 128 + shift * 32
                    for sub in 0..<2 {
                        let scale = unsafe u8(p, (base >> 4) + sub)
                        let dl = d * Float(scale & 0x0F), ml = dmin * Float(scale >> 4)
                        for l in sub * 16..<sub * 16 + 16 {
                            let q = unsafe (u8(p, 16 + half * 32 + l) >> UInt8(2 * shift)) & 3
                            unsafe o[base + l] = dl * Float(q) - ml
                        }
                    }
                }
            }
        }
    }

    /// 32 bytes of high-bit masks, 64 bytes of 2-bit quants, 12 bytes of 6-bit scales, f16 d.
    /// The 16 scales: low 4 bits from the nibbles of bytes 0–7 (low nibbles first), high 2 bits
    /// from bytes 8–11 (bits 2k of byte 8 + i mod 4 for scale 4k + i mod 4); scale − 32.
    /// Element i = 32b + l takes low bits as Q2_K and subtracts 4 when bit b of mask byte l is
    /// clear; x = (d × scale) × q.
    static func q3_K(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 110 bytes (the type's typeSize) at src + 110·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 110, o = unsafe out + b * 256
            let d = unsafe f16(p, 108)
            for group in 0..<16 {
                let low = unsafe group < 8 ? u8(p, 96 + group) & 0x0F : u8(p, 96 + group - 8) >> 4
                let high = unsafe (u8(p, 104 + group % 4) >> UInt8(2 * (group / 4))) & 3
                let dl = d * Float(Int32(low | high << 4) - 32)
                for i in group * 16..<group * 16 + 16 {
                    let half = i >> 7, shift = (i >> 5) & 3, l = i & 31
                    let q = unsafe Int32((u8(p, 32 + half * 32 + l) >> UInt8(2 * shift)) & 3)
                    let mask = unsafe (u8(p, l) >> UInt8(i >> 5)) & 1
                    unsafe o[i] = dl * Float(q - (mask == 0 ? 4 : 0))
                }
            }
        }
    }

    /// The 6-bit scale and minimum of sub-block `j` (0–7) from Q4_K's and Q5_K's 12 scale
    /// bytes at `p`: for j < 4, the low 6 bits of bytes j and 4 + j; otherwise the nibbles of
    /// byte 8 + j − 4 with the top 2 bits of bytes j − 4 and j.
    @inline(__always) static func scaleMin(_ p: UnsafeRawPointer, _ j: Int) -> (scale: UInt8, min: UInt8) {
        // Sound: j < 8 reads bytes 0…11 of the 12 at `p` (the callers pass j in 0..<8).
        if j < 4 { return unsafe (u8(p, j) & 0x3F, u8(p, 4 + j) & 0x3F) }
        let packed = unsafe u8(p, 8 + j - 4)
        return unsafe ((packed & 0x0F) | ((u8(p, j - 4) >> 2) & 0x30), (packed >> 4) | ((u8(p, j) >> 2) & 0x30))
    }

    /// f16 d, f16 dmin, 12 bytes of 6-bit scales and minimums, 128 bytes of nibbles: element
    /// 64c + 32h + l is nibble h of byte 32c + l; x = (d × scale) × q − (dmin × min), per 32.
    static func q4_K(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 144 bytes (the type's typeSize) at src + 144·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 144, o = unsafe out + b * 256
            let d = unsafe f16(p, 0), dmin = unsafe f16(p, 2)
            for sub in 0..<8 {
                let (scale, minimum) = unsafe scaleMin(p + 4, sub)
                let dl = d * Float(scale), ml = dmin * Float(minimum)
                let bytes = unsafe p + 16 + (sub >> 1) * 32, shift = UInt8((sub & 1) * 4)
                let o = unsafe o + sub * 32
                for l in 0..<32 { unsafe o[l] = unsafe dl * Float((u8(bytes, l) >> shift) & 0x0F) - ml }
            }
        }
    }

    /// f16 d, f16 dmin, 12 bytes of scales as Q4_K, 32 bytes of fifth bits (element 32b + l is
    /// bit b of byte l), 128 bytes of nibbles as Q4_K; x = (d × scale) × q − (dmin × min).
    static func q5_K(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 176 bytes (the type's typeSize) at src + 176·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 176, o = unsafe out + b * 256
            let d = unsafe f16(p, 0), dmin = unsafe f16(p, 2)
            for sub in 0..<8 {
                let (scale, minimum) = unsafe scaleMin(p + 4, sub)
                let dl = d * Float(scale), ml = dmin * Float(minimum)
                let bytes = unsafe p + 48 + (sub >> 1) * 32, shift = UInt8((sub & 1) * 4)
                let o = unsafe o + sub * 32
                for l in 0..<32 {
                    let q = unsafe ((u8(bytes, l) >> shift) & 0x0F) | ((u8(p, 16 + l) >> UInt8(sub)) & 1) << 4
                    unsafe o[l] = dl * Float(q) - ml
                }
            }
        }
    }

    /// 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 signed scales, f16 d.
    /// Element 128h + 32s + l: nibble s / 2 of low byte 64h + 32(s mod 2) + l, with bits 2s of
    /// high byte 32h + l on top; x = (d × scale) × (q − 32), per 16.
    static func q6_K(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 210 bytes (the type's typeSize) at src + 210·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 210, o = unsafe out + b * 256
            let d = unsafe f16(p, 208)
            for half in 0..<2 {
                let low = unsafe p + half * 64, high = unsafe p + 128 + half * 32, o = unsafe o + half * 128
                for s in 0..<4 {
                    let lowBytes = unsafe low + (s & 1) * 32, lowShift = UInt8((s >> 1) * 4), highShift = UInt8(2 * s)
                    for sub in 0..<2 {
                        let dl = unsafe d * Float(i8(p, 192 + half * 8 + s * 2 + sub))
                        for l in sub * 16..<sub * 16 + 16 {
                            let q = unsafe ((u8(lowBytes, l) >> lowShift) & 0x0F) | ((u8(high, l) >> highShift) & 3) << 4
                            unsafe o[s * 32 + l] = dl * Float(Int32(q) - 32)
                        }
                    }
                }
            }
        }
    }

    /// f32 d, 256 signed bytes, 16 i16 group sums (not needed to decode); x = d × q.
    static func q8_K(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 292 bytes (the type's typeSize) at src + 292·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 292, o = unsafe out + b * 256
            let d = unsafe Float(bitPattern: u32(p, 0))
            for j in 0..<256 { unsafe o[j] = unsafe d * Float(i8(p, 4 + j)) }
        }
    }

    /// f16 d, u16 of high scale bits (2 per sub-block), 4 bytes of low scale nibbles, 128
    /// bytes of nibbles: sub-block j of 32 has scale (nibble j mod 2 of byte j / 2 | bits 2j of
    /// the u16 << 4) − 32, and its element 16h + l is nibble h of byte 16j + l, an index into
    /// ``iq4Values``; x = (d × scale) × value.
    static func iq4_XS(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 136 bytes (the type's typeSize) at src + 136·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b; nibble indices < 16 into the 16-entry iq4Values.
        unsafe iq4Values.withUnsafeBufferPointer { grid in
            for b in 0..<blocks {
                let p = unsafe src + b * 136, o = unsafe out + b * 256
                let d = unsafe f16(p, 0), high = unsafe u16(p, 2)
                for sub in 0..<8 {
                    let low = unsafe (u8(p, 4 + sub / 2) >> UInt8(4 * (sub & 1))) & 0x0F
                    let top = UInt8(truncatingIfNeeded: high >> UInt16(2 * sub)) & 3
                    let dl = d * Float(Int32(low | top << 4) - 32)
                    let o = unsafe o + sub * 32
                    for l in 0..<16 {
                        let byte = unsafe u8(p, 8 + sub * 16 + l)
                        unsafe o[l] = unsafe dl * grid[Int(byte & 0x0F)]
                        unsafe o[l + 16] = unsafe dl * grid[Int(byte >> 4)]
                    }
                }
            }
        }
    }

    /// 48 bytes each packing 5 ternary digits, 4 bytes each packing 4, f16 d. A byte holds
    /// digits as a fixed-point fraction: digit n of byte v is ⌊3 × (v × 3ⁿ mod 256) / 256⌋.
    /// Elements 0–159 come from bytes 0–31 (digit n of byte l is element 32n + l), 160–239
    /// from bytes 32–47 (160 + 16n + l), 240–255 from bytes 48–51 (240 + 4n + l);
    /// x = d × (digit − 1).
    static func tq1_0(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 54 bytes (the type's typeSize) at src + 54·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b; `powers` is indexed by n < 5, its count.
        @inline(__always) func digit(_ byte: UInt8, _ power: UInt8) -> Float {
            let shifted = byte &* power
            return Float(Int32((UInt16(shifted) * 3) >> 8) - 1)
        }
        let powers: [UInt8] = [1, 3, 9, 27, 81]
        for b in 0..<blocks {
            let p = unsafe src + b * 54, o = unsafe out + b * 256
            let d = unsafe f16(p, 52)
            for n in 0..<5 {
                for l in 0..<32 { unsafe o[32 * n + l] = unsafe d * digit(u8(p, l), powers[n]) }
                for l in 0..<16 { unsafe o[160 + 16 * n + l] = unsafe d * digit(u8(p, 32 + l), powers[n]) }
            }
            for n in 0..<4 {
                for l in 0..<4 { unsafe o[240 + 4 * n + l] = unsafe d * digit(u8(p, 48 + l), powers[n]) }
            }
        }
    }

    /// 64 bytes of 2-bit quants as Q2_K's, f16 d; x = d × (q − 1).
    static func tq2_0(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 66 bytes (the type's typeSize) at src + 66·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b.
        for b in 0..<blocks {
            let p = unsafe src + b * 66, o = unsafe out + b * 256
            let d = unsafe f16(p, 64)
            for half in 0..<2 {
                for shift in 0..<4 {
                    for l in 0..<32 {
                        let q = unsafe (u8(p, half * 32 + l) >> UInt8(2 * shift)) & 3
                        unsafe o[half * 128 + shift * 32 + l] = d * Float(Int32(q) - 1)
                    }
                }
            }
        }
    }

    // MARK: IQ formats (lookup grids, GGMLGrid)

    /// Writes `count` grid values from entry `entry` (of `width`), times `scale`, negated
    /// where bit j of `signs` is set, except a NaN, which keeps its sign: gguf-py multiplies
    /// by −1, and the multiplication returns its NaN operand as it is.
    @inline(__always) static func signedRow(_ grid: UnsafeBufferPointer<Float>, entry: Int, width: Int, count: Int,
                                            scale: Float, signs: UInt8, into o: UnsafeMutablePointer<Float>) {
        // Sound: the callers pass an entry below the grid's entry count (see each kernel) and
        // `count` ≤ `width`, and `o` with `count` floats of its block left.
        for j in 0..<count {
            let value = unsafe scale * grid[entry * width + j]
            unsafe o[j] = (signs >> UInt8(j)) & 1 == 0 || value.isNaN ? value : -value
        }
    }

    /// f16 d; 8 groups of 32, each two u32: four grid indices (bytes), then four 7-bit sign
    /// indices and a 4-bit scale s in the top bits. x = ±(d × (0.5 + s) × 0.25) × grid.
    static func iq2_XXS(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 66 bytes (the type's typeSize) at src + 66·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b; grid entries are bytes (< 256, the grid has 256 of 8), sign indices 7 bits (< 128).
        unsafe GGMLGrid.iq2xxs.withUnsafeBufferPointer { grid in
            unsafe GGMLGrid.signs.withUnsafeBufferPointer { signs in
                for b in 0..<blocks {
                    let p = unsafe src + b * 66, o = unsafe out + b * 256
                    let d = unsafe f16(p, 0)
                    for group in 0..<8 {
                        let indices = unsafe u32(p, 2 + 8 * group), aux = unsafe u32(p, 6 + 8 * group)
                        let db = d * (0.5 + Float(aux >> 28)) * 0.25
                        for k in 0..<4 {
                            unsafe signedRow(grid, entry: Int((indices >> UInt32(8 * k)) & 0xFF), width: 8, count: 8, scale: db,
                                      signs: signs[Int((aux >> UInt32(7 * k)) & 0x7F)], into: o + group * 32 + k * 8)
                        }
                    }
                }
            }
        }
    }

    /// f16 d; 32 u16 (9-bit grid index, 7-bit sign index), each 8 elements; 8 bytes of 4-bit
    /// scales, one per 16 elements. x = ±(d × (0.5 + s) × 0.25) × grid.
    static func iq2_XS(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 74 bytes (the type's typeSize) at src + 74·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b; grid entries are 9 bits (< 512, the grid has 512 of 8), sign indices 7 bits (< 128).
        unsafe GGMLGrid.iq2xs.withUnsafeBufferPointer { grid in
            unsafe GGMLGrid.signs.withUnsafeBufferPointer { signs in
                for b in 0..<blocks {
                    let p = unsafe src + b * 74, o = unsafe out + b * 256
                    let d = unsafe f16(p, 0)
                    for k in 0..<32 {
                        let scale = unsafe (u8(p, 66 + k / 4) >> UInt8(4 * ((k / 2) & 1))) & 0x0F
                        let db = d * (0.5 + Float(scale)) * 0.25
                        let q = unsafe u16(p, 2 + 2 * k)
                        unsafe signedRow(grid, entry: Int(q & 511), width: 8, count: 8, scale: db,
                                  signs: signs[Int(q >> 9)], into: o + 8 * k)
                    }
                }
            }
        }
    }

    /// f16 d; 32 low index bytes; 32 sign bytes; 8 bytes of 2-bit high index bits; 8 bytes of
    /// 4-bit scales (per 16). Group k of 8: grid entry low[k] | 2 bits of high[k / 4] << 8,
    /// signs from bits of sign byte k. x = ±(d × (0.5 + s) × 0.25) × grid.
    static func iq2_S(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 82 bytes (the type's typeSize) at src + 82·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b; grid entries are 8 + 2 bits (< 1024, the grid has 1024 of 8).
        unsafe GGMLGrid.iq2s.withUnsafeBufferPointer { grid in
            for b in 0..<blocks {
                let p = unsafe src + b * 82, o = unsafe out + b * 256
                let d = unsafe f16(p, 0)
                for k in 0..<32 {
                    let scale = unsafe (u8(p, 74 + k / 4) >> UInt8(4 * ((k / 2) & 1))) & 0x0F
                    let db = d * (0.5 + Float(scale)) * 0.25
                    let high = unsafe (Int(u8(p, 66 + k / 4)) >> (2 * (k & 3))) & 3
                    unsafe signedRow(grid, entry: Int(u8(p, 2 + k)) | high << 8, width: 8, count: 8, scale: db,
                              signs: u8(p, 34 + k), into: o + 8 * k)
                }
            }
        }
    }

    /// f16 d; 64 grid index bytes (entries of 4); 8 u32, one per 32 elements: four 7-bit sign
    /// indices and a 4-bit scale s on top. x = ±(d × (0.5 + s) × 0.5) × grid.
    static func iq3_XXS(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 98 bytes (the type's typeSize) at src + 98·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b; grid entries are bytes (< 256, the grid has 256 of 4), sign indices 7 bits (< 128).
        unsafe GGMLGrid.iq3xxs.withUnsafeBufferPointer { grid in
            unsafe GGMLGrid.signs.withUnsafeBufferPointer { signs in
                for b in 0..<blocks {
                    let p = unsafe src + b * 98, o = unsafe out + b * 256
                    let d = unsafe f16(p, 0)
                    for group in 0..<8 {
                        let aux = unsafe u32(p, 66 + 4 * group)
                        let db = d * (0.5 + Float(aux >> 28)) * 0.5
                        for k in 0..<4 {
                            let pattern = unsafe signs[Int((aux >> UInt32(7 * k)) & 0x7F)]
                            let o = unsafe o + group * 32 + k * 8, first = 2 + group * 8 + 2 * k
                            unsafe signedRow(grid, entry: Int(u8(p, first)), width: 4, count: 4, scale: db, signs: pattern, into: o)
                            unsafe signedRow(grid, entry: Int(u8(p, first + 1)), width: 4, count: 4, scale: db, signs: pattern >> 4, into: o + 4)
                        }
                    }
                }
            }
        }
    }

    /// f16 d; 64 low index bytes (entries of 4); 8 bytes of ninth index bits; 32 sign bytes;
    /// 4 bytes of 4-bit scales (per 32). x = ±(d × (1 + 2s)) × grid.
    static func iq3_S(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 110 bytes (the type's typeSize) at src + 110·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b; grid entries are 8 + 1 bits (< 512, the grid has 512 of 4).
        unsafe GGMLGrid.iq3s.withUnsafeBufferPointer { grid in
            for b in 0..<blocks {
                let p = unsafe src + b * 110, o = unsafe out + b * 256
                let d = unsafe f16(p, 0)
                for k in 0..<64 {
                    let group = k / 8
                    let scale = unsafe (u8(p, 106 + group / 2) >> UInt8(4 * (group & 1))) & 0x0F
                    let db = d * Float(1 + 2 * scale)
                    let entry = unsafe Int(u8(p, 2 + k)) | (Int(u8(p, 66 + k / 8)) >> (k & 7) & 1) << 8
                    let pattern = unsafe u8(p, 74 + k / 2) >> UInt8(4 * (k & 1))
                    unsafe signedRow(grid, entry: entry, width: 4, count: 4, scale: db, signs: pattern, into: o + 4 * k)
                }
            }
        }
    }

    /// f16 d; 32 low index bytes; 8 u16, one per 32 elements: four 3-bit high index parts,
    /// a 3-bit scale s and a sign bit for δ = ±0.125. Grid values are −1, 0, 1.
    /// x = (d × (2s + 1)) × (grid + δ).
    static func iq1_S(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 50 bytes (the type's typeSize) at src + 50·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b; grid entries are 8 + 3 bits (< 2048, the grid has 2048 of 8).
        unsafe GGMLGrid.iq1s.withUnsafeBufferPointer { grid in
            for b in 0..<blocks {
                let p = unsafe src + b * 50, o = unsafe out + b * 256
                let d = unsafe f16(p, 0)
                for i in 0..<8 {
                    let high = unsafe u16(p, 34 + 2 * i)
                    let dl = d * Float(2 * ((high >> 12) & 7) + 1)
                    let delta: Float = high & 0x8000 == 0 ? 0.125 : -0.125
                    for m in 0..<4 {
                        let entry = unsafe Int(u8(p, 2 + 4 * i + m)) | Int((high >> UInt16(3 * m)) & 7) << 8
                        let o = unsafe o + 32 * i + 8 * m
                        for j in 0..<8 { unsafe o[j] = unsafe dl * (grid[entry * 8 + j] + delta) }
                    }
                }
            }
        }
    }

    /// 32 low index bytes; 16 bytes of nibbles (3 high index bits and the sign of δ, per group
    /// of 8); 4 u16 holding 3-bit scales (per 16) in their low 12 bits and, in their top
    /// nibbles, the f16 d. x = (d × (2s + 1)) × (grid + δ).
    static func iq1_M(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        // Sound: decode's contract: block b < blocks is the 56 bytes (the type's typeSize) at src + 56·b, read at
        // offsets inside that layout, and writes only its 256 floats at out + 256·b; grid entries are 8 + 3 bits (< 2048, the grid has 2048 of 8).
        unsafe GGMLGrid.iq1s.withUnsafeBufferPointer { grid in
            for b in 0..<blocks {
                let p = unsafe src + b * 56, o = unsafe out + b * 256
                let s0 = unsafe u16(p, 48), s1 = unsafe u16(p, 50), s2 = unsafe u16(p, 52), s3 = unsafe u16(p, 54)
                let bits = (s0 >> 12) | ((s1 >> 8) & 0x00F0) | ((s2 >> 4) & 0x0F00) | (s3 & 0xF000)
                let d = widen(bits)
                for k in 0..<32 {
                    let word = unsafe u16(p, 48 + 2 * (k / 8))
                    let scale = (word >> UInt16(3 * ((k / 2) & 3))) & 7
                    let dl = d * Float(2 * scale + 1)
                    let nibble = unsafe (u8(p, 32 + k / 2) >> UInt8(4 * (k & 1))) & 0x0F
                    let delta: Float = nibble & 0x08 == 0 ? 0.125 : -0.125
                    let entry = unsafe Int(u8(p, k)) | Int(nibble & 7) << 8
                    let o = unsafe o + 8 * k
                    for j in 0..<8 { unsafe o[j] = unsafe dl * (grid[entry * 8 + j] + delta) }
                }
            }
        }
    }
}
