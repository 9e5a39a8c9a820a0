import CWeightsSIMD
import Foundation
import Testing
import WeightsEngine

/// The decoder's C kernels: every path this CPU runs against the portable one, on random
/// blocks of each weight format.
@Suite struct QuantizedKernelTests {
    /// (ggml type id, bytes per block, offsets of the binary16 scales in a block).
    static let formats: [(type: Int32, name: String, scales: [Int])] = [
        (Int32(WEIGHTS_GGML_Q8_0), "Q8_0", [0]), (Int32(WEIGHTS_GGML_Q5_0), "Q5_0", [0]),
        (Int32(WEIGHTS_GGML_Q4_K), "Q4_K", [0, 2]), (Int32(WEIGHTS_GGML_Q6_K), "Q6_K", [208]),
    ]

    /// A generator that gives the same data on every run.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
    }

    /// `rows` rows of random blocks for `k` values, each scale a binary16 between about 2^-9 and 2^-6.
    static func weights(type: Int32, scales: [Int], rows: Int, k: Int, random: inout Random) -> [UInt8] {
        let blockBytes = weights_quantized_block_bytes(type), blocks = k / weights_quantized_block_elements(type)
        var bytes = (0..<rows * blocks * blockBytes).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        for block in 0..<rows * blocks {
            for offset in scales {
                let half = UInt16(0x1800 + random.next() % 0x0C00)  // exponent 6…8: 2^-9 … 2^-6
                bytes[block * blockBytes + offset] = UInt8(half & 0xFF)
                bytes[block * blockBytes + offset + 1] = UInt8(half >> 8)
            }
        }
        return bytes
    }

    static func quantized(_ x: [Float], type: Int32, tokens: Int, k: Int,
                          kernel: Int32 = Int32(WEIGHTS_KERNEL_BEST)) -> (bytes: [UInt8], stride: Int) {
        let stride = weights_quantized_activation_size(type, k)
        var bytes = [UInt8](repeating: 0, count: tokens * stride)
        unsafe bytes.withUnsafeMutableBytes { out in
            unsafe x.withUnsafeBufferPointer { x in
                for t in 0..<tokens {
                    _ = unsafe weights_quantize_activations(type, x.baseAddress! + t * k, k, out.baseAddress! + t * stride, kernel)
                }
            }
        }
        return (bytes, stride)
    }

    /// out[t × rows + r] for every token, through the matrix-matrix entry point.
    static func matmul(_ w: [UInt8], type: Int32, rows: Int, k: Int, _ a: (bytes: [UInt8], stride: Int), tokens: Int,
                       kernel: Int32) -> [Float] {
        var out = [Float](repeating: .nan, count: tokens * rows)
        let rowBytes = k / weights_quantized_block_elements(type) * weights_quantized_block_bytes(type)
        let stride = a.stride
        let ok = unsafe w.withUnsafeBytes { w in
            unsafe a.bytes.withUnsafeBytes { a in
                unsafe out.withUnsafeMutableBufferPointer { out in
                    unsafe weights_quantized_matmul(type, w.baseAddress, rowBytes, rows, k, a.baseAddress, stride, tokens,
                                                    out.baseAddress, rows, kernel)
                }
            }
        }
        #expect(ok)
        return out
    }

    static func matvec(_ w: [UInt8], type: Int32, rows: Int, k: Int, _ a: ArraySlice<UInt8>, kernel: Int32) -> [Float] {
        var out = [Float](repeating: .nan, count: rows)
        let rowBytes = k / weights_quantized_block_elements(type) * weights_quantized_block_bytes(type)
        let ok = unsafe w.withUnsafeBytes { w in
            unsafe Array(a).withUnsafeBytes { a in
                unsafe out.withUnsafeMutableBufferPointer { out in
                    unsafe weights_quantized_matvec(type, w.baseAddress, rowBytes, rows, k, a.baseAddress, out.baseAddress, kernel)
                }
            }
        }
        #expect(ok)
        return out
    }

    /// Shapes of a product (weight rows, tokens) that reach every tile the prompt kernels cut
    /// it into: 2-row × 4-token tiles with a row left over (37, 3 rows), a single row (1),
    /// tokens left over after the fours (6, 9) or fewer than four (3), one matrix × vector
    /// (1 token), and more than one token tile (231 tokens: of 1,024 values, a tile holds the
    /// 256 KB of 224 tokens' Q8_0 activations, 204 tokens' Q4_K ones).
    static let shapes: [(rows: Int, tokens: Int)] = [(37, 6), (1, 4), (2, 9), (3, 3), (16, 1), (5, 231)]

    @Test(arguments: formats.indices, shapes.indices)
    func everyPathMatchesThePortableOne(format: Int, shape: Int) {
        let (type, name, scales) = Self.formats[format]
        let (rows, tokens) = Self.shapes[shape]
        var random = Random(state: UInt64(format * 16 + shape) + 1)
        let k = 1024
        let w = Self.weights(type: type, scales: scales, rows: rows, k: k, random: &random)
        let x = (0..<tokens * k).map { _ in random.unit() * 4 }
        let a = Self.quantized(x, type: type, tokens: tokens, k: k)
        Self.expectEveryPathMatchesThePortableOne(w, type: type, rows: rows, k: k, a, tokens: tokens,
                                                  label: "\(name), \(rows) × \(tokens)")
    }

    /// Checks the best and the AVX2 kernels against the portable one on `w` × `a`: within
    /// 1e-5 of the largest result (the integer sums are equal; only the order of the binary32
    /// additions differs), and, token by token, bit for bit the matrix-vector product (every
    /// tile shape sums as one row and one token do).
    static func expectEveryPathMatchesThePortableOne(_ w: [UInt8], type: Int32, rows: Int, k: Int,
                                                     _ a: (bytes: [UInt8], stride: Int), tokens: Int, label: String) {
        let portable = matmul(w, type: type, rows: rows, k: k, a, tokens: tokens, kernel: Int32(WEIGHTS_KERNEL_PORTABLE))
        for kernel in [Int32(WEIGHTS_KERNEL_BEST), Int32(WEIGHTS_QUANTIZED_KERNEL_AVX2)] {
            let fast = matmul(w, type: type, rows: rows, k: k, a, tokens: tokens, kernel: kernel)
            let scale = portable.map(abs).max()!
            let worst = zip(fast, portable).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-5 * scale, "\(label), kernel \(kernel): worst difference \(worst) of \(scale)")
            for t in 0..<tokens {
                let single = matvec(w, type: type, rows: rows, k: k, a.bytes[t * a.stride..<(t + 1) * a.stride], kernel: kernel)
                #expect(single == Array(fast[t * rows..<(t + 1) * rows]), "\(label), kernel \(kernel), token \(t)")
            }
        }
    }

    /// Q5_0 rows (to Q8_0 blocks) and Q4_K rows (their scales and minimums to binary32) are
    /// rewritten for a prompt block, as many rows at a time as a 32 KB buffer holds: Q5_0 16
    /// rows of 1,024 values, 6 of 4,096, none of 16,384 (one row does not fit: the tiles take
    /// the rows as they are); Q4_K 16 of 1,024, 2 of 16,384, none of 65,536. Every case gives
    /// the bits token by token gives.
    static let widened: [(type: Int32, scales: [Int], k: Int)] = [
        (Int32(WEIGHTS_GGML_Q5_0), [0], 1024), (Int32(WEIGHTS_GGML_Q5_0), [0], 4096), (Int32(WEIGHTS_GGML_Q5_0), [0], 16384),
        (Int32(WEIGHTS_GGML_Q4_K), [0, 2], 1024), (Int32(WEIGHTS_GGML_Q4_K), [0, 2], 16384), (Int32(WEIGHTS_GGML_Q4_K), [0, 2], 65536),
    ]

    @Test(arguments: widened.indices)
    func widenedRowsGiveTheSameBits(index: Int) {
        let (type, scales, k) = Self.widened[index]
        var random = Random(state: UInt64(k) + UInt64(type))
        let rows = 19, tokens = 5
        let w = Self.weights(type: type, scales: scales, rows: rows, k: k, random: &random)
        let x = (0..<tokens * k).map { _ in random.unit() * 4 }
        let a = Self.quantized(x, type: type, tokens: tokens, k: k)
        Self.expectEveryPathMatchesThePortableOne(w, type: type, rows: rows, k: k, a, tokens: tokens, label: "type \(type), k \(k)")
    }

    /// Activations quantized with AVX2 are the portable loop's bytes: scales, levels rounded
    /// half away from zero (values that land on exact halves included) and block sums.
    @Test(arguments: [Int32(WEIGHTS_GGML_Q8_0), Int32(WEIGHTS_GGML_Q4_K)])
    func quantizedActivationsMatchThePortableOnes(type: Int32) {
        var random = Random(state: UInt64(type))
        let k = 1024
        // Random values of several magnitudes, zero blocks, and blocks whose largest value is
        // 127 so that the scale is 1 and the halves stay halves.
        var x = (0..<k).map { i -> Float in
            switch i / 256 {
            case 0: return random.unit() * 4
            case 1: return i % 32 == 0 ? 127 : Float(Int(random.next() % 255) - 127) / 2
            case 2: return i % 64 < 32 ? 0 : random.unit() * 1e-30
            default: return random.unit() * Float(1 << (random.next() % 20))
            }
        }
        x[700] = -x[700]
        let portable = Self.quantized(x, type: type, tokens: 1, k: k, kernel: Int32(WEIGHTS_KERNEL_PORTABLE))
        let fast = Self.quantized(x, type: type, tokens: 1, k: k)
        #expect(fast.bytes == portable.bytes)
    }

    @Test(arguments: formats.indices)
    func quantizedProductIsCloseToTheExactOne(format: Int) {
        let (type, name, scales) = Self.formats[format]
        var random = Random(state: UInt64(format) + 100)
        let rows = 8, k = 512
        let w = Self.weights(type: type, scales: scales, rows: rows, k: k, random: &random)
        let x = (0..<k).map { _ in random.unit() }
        let a = Self.quantized(x, type: type, tokens: 1, k: k)
        let quantized = Self.matmul(w, type: type, rows: rows, k: k, a, tokens: 1, kernel: Int32(WEIGHTS_KERNEL_BEST))
        var exact = [Float](repeating: 0, count: rows)
        let rowBytes = k / weights_quantized_block_elements(type) * weights_quantized_block_bytes(type)
        _ = unsafe w.withUnsafeBytes { w in
            unsafe x.withUnsafeBufferPointer { x in
                unsafe exact.withUnsafeMutableBufferPointer { out in
                    unsafe weights_quantized_matmul_f32(type, w.baseAddress, rowBytes, rows, k, x.baseAddress, k, 1,
                                                        out.baseAddress, rows, Int32(WEIGHTS_KERNEL_BEST))
                }
            }
        }
        // 8-bit activations: about 1% of the typical product.
        let scale = exact.map(abs).max()!
        for (q, e) in zip(quantized, exact) { #expect(abs(q - e) <= 0.03 * scale, "\(name): \(q) vs \(e)") }
    }

    @Test func vectorKernelsMatchThePortableOnes() {
        var random = Random(state: 7)
        for n in [1, 7, 8, 33, 256, 1000] {
            let a = (0..<n).map { _ in random.unit() }, b = (0..<n).map { _ in random.unit() }
            let portable = unsafe weights_dot_f32(a, b, n, Int32(WEIGHTS_KERNEL_PORTABLE))
            let fast = unsafe weights_dot_f32(a, b, n, Int32(WEIGHTS_KERNEL_BEST))
            #expect(abs(fast - portable) <= 1e-5 * Float(n).squareRoot())
            var y1 = b, y2 = b
            unsafe weights_axpy_f32(0.37, a, &y1, n, Int32(WEIGHTS_KERNEL_PORTABLE))
            unsafe weights_axpy_f32(0.37, a, &y2, n, Int32(WEIGHTS_KERNEL_BEST))
            #expect(zip(y1, y2).allSatisfy { abs($0 - $1) <= 1e-6 })
            var g1 = a.map { $0 * 6 }, g2 = g1
            unsafe weights_gelu_tanh_product(&g1, b, n, Int32(WEIGHTS_KERNEL_PORTABLE))
            unsafe weights_gelu_tanh_product(&g2, b, n, Int32(WEIGHTS_KERNEL_BEST))
            for i in 0..<n {
                let g = Double(a[i] * 6), expected = 0.5 * g * (1 + tanh(0.7978845608028654 * (g + 0.044715 * g * g * g))) * Double(b[i])
                #expect(abs(Double(g1[i]) - expected) <= 1e-6 * max(1, abs(g)))
                #expect(abs(Double(g2[i]) - expected) <= 1e-6 * max(1, abs(g)))
            }
        }
    }

    @Test func attentionHeadMatchesItsDefinition() {
        var random = Random(state: 11)
        let size = 256, stride = 320
        for count in [1, 5, 130] {
            let q = (0..<size).map { _ in random.unit() }
            let keys = (0..<count * stride).map { _ in random.unit() }, values = (0..<count * stride).map { _ in random.unit() }
            // In Double: softmax of the scaled scores, then the weighted values.
            let raw = (0..<count).map { p in (0..<size).reduce(0.0) { $0 + Double(q[$1]) * Double(keys[p * stride + $1]) } * 0.0625 }
            let top = raw.max()!, weights = raw.map { exp($0 - top) }, total = weights.reduce(0, +)
            let expected = (0..<size).map { i in (0..<count).reduce(0.0) { $0 + weights[$1] / total * Double(values[$1 * stride + i]) } }
            for kernel in [Int32(WEIGHTS_KERNEL_BEST), Int32(WEIGHTS_KERNEL_PORTABLE)] {
                var scores = [Float](repeating: 0, count: count), out = [Float](repeating: .nan, count: size)
                unsafe weights_attend_head(q, keys, values, stride, count, size, 0.0625, &scores, &out, kernel)
                let worst = zip(out, expected).map { abs(Double($0) - $1) }.max()!
                #expect(worst <= 1e-5, "\(count) positions, kernel \(kernel): \(worst)")
            }
        }
    }

    /// Query heads that share a key/value head attend together (each cached row read once for
    /// all of them) with the bits each gets alone, on every kernel: 1 to 6 heads (a group of
    /// four and the rest), head sizes with and without the 64- and 16-value chunks' tails; and
    /// the best kernel (512-bit value sums where the CPU has AVX-512) gives AVX2's bits.
    @Test(arguments: [256, 40, 8, 3])
    func groupedHeadsGiveEachHeadsBits(size: Int) {
        var random = Random(state: UInt64(size))
        let stride = size + 7, count = 37
        let keys = (0..<count * stride).map { _ in random.unit() }, values = (0..<count * stride).map { _ in random.unit() }
        for heads in 1...6 {
            let q = (0..<heads * size).map { _ in random.unit() }
            var results: [Int32: [Float]] = [:]
            for kernel in [Int32(WEIGHTS_KERNEL_BEST), Int32(WEIGHTS_ENGINE_KERNEL_AVX2), Int32(WEIGHTS_KERNEL_PORTABLE)] {
                var scores = [Float](repeating: 0, count: heads * count), out = [Float](repeating: .nan, count: heads * size)
                unsafe weights_attend_heads(q, heads, keys, values, stride, count, size, 0.0625, &scores, &out, kernel)
                results[kernel] = out
                for h in 0..<heads {
                    var one = [Float](repeating: 0, count: count), alone = [Float](repeating: .nan, count: size)
                    let head = Array(q[h * size..<(h + 1) * size])
                    unsafe weights_attend_head(head, keys, values, stride, count, size, 0.0625, &one, &alone, kernel)
                    #expect(Array(out[h * size..<(h + 1) * size]) == alone, "size \(size), \(heads) heads, head \(h), kernel \(kernel)")
                }
            }
            // AVX-512's wider registers change no bit: the best kernel gives AVX2's.
            #expect(results[Int32(WEIGHTS_KERNEL_BEST)] == results[Int32(WEIGHTS_ENGINE_KERNEL_AVX2)], "size \(size), \(heads) heads")
        }
    }

    @Test func workerPoolRunsEveryJobOnce() {
        let pool = WorkerPool(threads: 3)
        for jobs in [0, 1, 2, 5, 64] {
            var hits = [Int](repeating: 0, count: max(1, jobs))
            unsafe hits.withUnsafeMutableBufferPointer { hits in
                let shared = unsafe UncheckedBox(hits)
                // Each job writes only its own element.
                pool.run(jobs: jobs) { job in unsafe shared.value[job] += 1 }
            }
            #expect(jobs == 0 || hits == [Int](repeating: 1, count: jobs))
        }
    }
}

/// Hands disjoint writes to the pool's threads.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
