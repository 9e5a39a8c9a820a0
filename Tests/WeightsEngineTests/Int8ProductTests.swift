import Testing
import WeightsEngine
import WeightsTestSupport

/// ``Int8Product`` (int8_gemm.c): every form this CPU runs against a plain Swift rendering of
/// per-token quantization and the integer sums, exactly, and the forms against each other.
@Suite struct Int8ProductTests {
    /// A problem: m × k activations, n × k INT8 weights with per-row scales, a bias.
    struct Problem {
        let m, n, k: Int
        let x: [Float]
        let weights: [Int8]
        let weightScales: [Float]
        let bias: [Float]

        init(m: Int, n: Int, k: Int, random: inout SeededGenerator) {
            self.m = m
            self.n = n
            self.k = k
            // Rows of very different magnitudes, a zero row, and values at ±127 after scaling.
            x = (0..<m * k).map { index in
                let row = index / k
                if row == 1 { return 0 }
                return Float.random(in: -1...1, using: &random) * Float(1 + row % 5) * (row % 3 == 0 ? 100 : 1)
            }
            weights = (0..<n * k).map { _ in Int8.random(in: -127...127, using: &random) }
            weightScales = (0..<n).map { _ in Float.random(in: 0.001...0.1, using: &random) }
            bias = (0..<n).map { _ in Float.random(in: -1...1, using: &random) }
        }

        /// Per-row scales and levels as Spec/int8-compute.md §2 defines them.
        func referenceQuantization() -> (scales: [Float], levels: [Int32]) {
            var scales = [Float](), levels = [Int32]()
            for row in 0..<m {
                let values = x[row * k..<(row + 1) * k]
                let scale = values.map(abs).max()! / 127
                scales.append(scale)
                for value in values {
                    let level = scale > 0 ? (value / scale).rounded(.toNearestOrEven) : 0
                    levels.append(Int32(min(max(level, -127), 127)))
                }
            }
            return (scales, levels)
        }

        /// Σ_p a[i][p] · b[j][p] from the reference levels.
        func referenceSums() -> [Int32] {
            let levels = referenceQuantization().levels
            var sums = [Int32](repeating: 0, count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var sum: Int32 = 0
                    for p in 0..<k { sum += levels[i * k + p] * Int32(weights[j * k + p]) }
                    sums[i * n + j] = sum
                }
            }
            return sums
        }

        func packed(_ level: Int8Product.Level) -> PackedInt8Matrix {
            unsafe weights.withUnsafeBufferPointer { w in
                unsafe weightScales.withUnsafeBufferPointer { s in
                    unsafe PackedInt8Matrix(values: w.baseAddress!, scales: s.baseAddress!, rows: n, columns: k, level: level)
                }
            }
        }

        /// The quantized activations' scales, the sums over `columns`, and the floats (with the
        /// bias) over all columns, on `level`.
        func run(_ level: Int8Product.Level, columns: Range<Int>? = nil) -> (scales: [Float], sums: [Int32], floats: [Float]) {
            let b = packed(level)
            let columns = columns ?? 0..<n
            var levels = [UInt8](repeating: 0xEE, count: Int8Product.activationByteCount(rows: m, columns: k, level: level))
            var scales = [Float](repeating: .nan, count: m)
            var sums = [Int32](repeating: -1, count: m * n)
            var floats = [Float](repeating: .nan, count: m * n)
            unsafe x.withUnsafeBufferPointer { x in
                unsafe levels.withUnsafeMutableBytes { levels in
                    unsafe scales.withUnsafeMutableBufferPointer { scales in
                        unsafe Int8Product.quantize(x.baseAddress!, rows: m, columns: k, into: levels.baseAddress!,
                                                    scales: scales.baseAddress!, level: level)
                        unsafe sums.withUnsafeMutableBufferPointer { sums in
                            unsafe Int8Product.sums(levels.baseAddress!, rows: m, b, columns: columns,
                                                    into: sums.baseAddress!, ldc: n)
                        }
                        unsafe bias.withUnsafeBufferPointer { bias in
                            unsafe floats.withUnsafeMutableBufferPointer { floats in
                                unsafe Int8Product.multiply(levels.baseAddress!, scales: scales.baseAddress!, rows: m, b,
                                                            columns: 0..<n, bias: bias.baseAddress!,
                                                            into: floats.baseAddress!, ldc: n)
                            }
                        }
                    }
                }
            }
            return (scales, sums, floats)
        }
    }

    /// Around the tiles (6 and 12 rows × 16 columns), the row block (96) and the depth's
    /// padding to 4.
    static let shapes = [(1, 1, 1), (2, 16, 4), (7, 17, 5), (13, 33, 66), (97, 40, 384), (100, 65, 1537), (193, 130, 30)]

    @Test(arguments: Int8Product.Level.available.map(\.rawValue))
    func sumsAreExactOnEveryForm(level raw: Int32) {
        let level = Int8Product.Level(rawValue: raw)!
        var random = SeededGenerator(seed: 21)
        for (m, n, k) in Self.shapes {
            let problem = Problem(m: m, n: n, k: k, random: &random)
            let result = problem.run(level)
            #expect(result.scales == problem.referenceQuantization().scales, "\(level) \(m)×\(n)×\(k)")
            #expect(result.sums == problem.referenceSums(), "\(level) \(m)×\(n)×\(k)")
        }
    }

    /// The epilogue: Float(sum) × a scale, × b scale, + bias, each rounded, no FMA.
    @Test(arguments: Int8Product.Level.available.map(\.rawValue))
    func floatsApplyScalesAndBias(level raw: Int32) {
        let level = Int8Product.Level(rawValue: raw)!
        var random = SeededGenerator(seed: 22)
        for (m, n, k) in Self.shapes {
            let problem = Problem(m: m, n: n, k: k, random: &random)
            let result = problem.run(level)
            let sums = problem.referenceSums(), scales = problem.referenceQuantization().scales
            var expected = [Float](repeating: 0, count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    let scaled = Float(sums[i * n + j]) * scales[i]
                    let product = scaled * problem.weightScales[j]
                    expected[i * n + j] = product + problem.bias[j]
                }
            }
            #expect(result.floats == expected, "\(level) \(m)×\(n)×\(k)")
        }
    }

    /// The forms agree bit for bit, and a share of the columns writes only those columns.
    @Test func formsAgreeAndColumnSharesStayInside() {
        var random = SeededGenerator(seed: 23)
        let problem = Problem(m: 50, n: 70, k: 100, random: &random)
        let portable = problem.run(.portable)
        for level in Int8Product.Level.available {
            let result = problem.run(level)
            #expect(result.sums == portable.sums && result.floats == portable.floats, "\(level)")
            let share = problem.run(level, columns: 32..<48).sums
            for i in 0..<problem.m {
                for j in 0..<problem.n {
                    #expect(share[i * problem.n + j] == ((32..<48).contains(j) ? portable.sums[i * problem.n + j] : -1))
                }
            }
        }
        // AVX2 is the form CI machines with VNNI skip by default: make sure it runs where it can.
        #expect(Int8Product.Level.avx2IfAvailable.rawValue <= Int8Product.Level.avx2.rawValue)
    }

    /// A known answer worked by hand: x = [1, -2, 3, 0.5] has scale 3/127 and levels
    /// [42, -85, 127, 21]; with weights [1, 2, 3, 4] the sum is 42 - 170 + 381 + 84 = 337.
    @Test(arguments: Int8Product.Level.available.map(\.rawValue))
    func handWorkedAnswer(level raw: Int32) {
        let level = Int8Product.Level(rawValue: raw)!
        let weights: [Int8] = [1, 2, 3, 4], weightScales: [Float] = [0.5]
        let x: [Float] = [1, -2, 3, 0.5]
        var levels = [UInt8](repeating: 0, count: Int8Product.activationByteCount(rows: 1, columns: 4, level: level))
        var scale: Float = 0, sum: Int32 = 0, value: Float = 0
        let b = unsafe weights.withUnsafeBufferPointer { w in
            unsafe weightScales.withUnsafeBufferPointer { s in
                unsafe PackedInt8Matrix(values: w.baseAddress!, scales: s.baseAddress!, rows: 1, columns: 4, level: level)
            }
        }
        unsafe x.withUnsafeBufferPointer { x in
            unsafe levels.withUnsafeMutableBytes { levels in
                unsafe Int8Product.quantize(x.baseAddress!, rows: 1, columns: 4, into: levels.baseAddress!, scales: &scale,
                                            level: level)
                unsafe Int8Product.sums(levels.baseAddress!, rows: 1, b, columns: 0..<1, into: &sum, ldc: 1)
                unsafe Int8Product.multiply(levels.baseAddress!, scales: &scale, rows: 1, b, columns: 0..<1, bias: nil,
                                            into: &value, ldc: 1)
            }
        }
        #expect(scale == Float(3) / 127)
        #expect(sum == 337)
        #expect(value == Float(337) * (Float(3) / 127) * 0.5)
    }
}
