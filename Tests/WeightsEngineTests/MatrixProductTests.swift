import Testing
import WeightsEngine

/// ``MatrixProduct`` against the product evaluated in Double, for every B format, over sizes
/// around the kernel's tiles (14 × 32) and blocks (98 rows, 768 deep, 768 wide).
@Suite struct MatrixProductTests {
    static let sizes = [0, 1, 3, 13, 31, 33, 64, 100, 385]

    @Test(arguments: OperandFormat.allCases)
    func edgeSizesMatchDouble(format: OperandFormat) {
        var random = SeededGenerator(seed: 7)
        for m in Self.sizes {
            for n in Self.sizes {
                for k in Self.sizes {
                    // Tight strides, and odd ones that break every alignment.
                    let padded = (m + n + k) % 2 == 1
                    let problem = Problem(m: m, n: n, k: k, format: format, padded: padded, random: &random)
                    problem.check(kernel: .best)
                }
            }
        }
    }

    /// Several blocks of depth (unequal lengths would leave a 1-deep last one), of B's rows
    /// and of A's rows, so that partial sums of C are added up across blocks.
    @Test(arguments: OperandFormat.allCases)
    func severalBlocksMatchDouble(format: OperandFormat) {
        var random = SeededGenerator(seed: 11)
        for (m, n, k) in [(200, 800, 1537), (99, 769, 770), (15, 33, 2305)] {
            Problem(m: m, n: n, k: k, format: format, padded: true, random: &random).check(kernel: .best)
        }
    }

    @Test(arguments: OperandFormat.allCases)
    func portableLoopMatchesDouble(format: OperandFormat) {
        var random = SeededGenerator(seed: 13)
        for (m, n, k) in [(0, 3, 3), (3, 0, 3), (3, 3, 0), (1, 1, 1), (13, 33, 31), (31, 64, 385)] {
            Problem(m: m, n: n, k: k, format: format, padded: true, random: &random).check(kernel: .portable)
        }
    }

    @Test func acceleratedOnAVX512() {
        print("MatrixProduct accelerated: \(MatrixProduct.isAccelerated), GELU/softmax kernels: \(Operations.Kernel.bestInstructionSet)")
        if Operations.Kernel.bestInstructionSet != "avx512f" { #expect(!MatrixProduct.isAccelerated) }
    }
}

enum OperandFormat: CaseIterable, Sendable {
    case f32, f16, int8
}

/// One product's operands, with C's padding and its m × n part poisoned beforehand.
private struct Problem {
    let m, n, k, lda, ldb, ldc: Int
    let format: OperandFormat
    let a: [Float]
    /// B's values as the kernel must read them (the F16 and INT8 ones already converted).
    let b: [Float]
    let halves: [Float16]
    let levels: [Int8]
    let scales: [Float]

    init(m: Int, n: Int, k: Int, format: OperandFormat, padded: Bool, random: inout SeededGenerator) {
        (self.m, self.n, self.k, self.format) = (m, n, k, format)
        (lda, ldb, ldc) = padded ? (k + 3, k + 5, n + 7) : (k, k, n)
        a = (0..<m * lda).map { _ in Float.random(in: -1...1, using: &random) }
        switch format {
        case .f32:
            b = (0..<n * ldb).map { _ in Float.random(in: -1...1, using: &random) }
            (halves, levels, scales) = ([], [], [])
        case .f16:
            halves = (0..<n * ldb).map { _ in Float16(Float.random(in: -1...1, using: &random)) }
            b = halves.map(Float.init)
            (levels, scales) = ([], [])
        case .int8:
            let levels = (0..<n * ldb).map { _ in Int8.random(in: -127...127, using: &random) }
            let scales = (0..<n).map { _ in Float.random(in: 0.001...0.02, using: &random) }
            let ldb = ldb
            b = levels.indices.map { Float(levels[$0]) * scales[$0 / ldb] }
            (halves, self.levels, self.scales) = ([], levels, scales)
        }
    }

    func check(kernel: MatrixProduct.Kernel, sourceLocation: SourceLocation = #_sourceLocation) {
        let poison = Float.nan
        var c = [Float](repeating: poison, count: (m + 1) * ldc)  // and a row past m
        unsafe c.withUnsafeMutableBufferPointer { c in
            unsafe a.withUnsafeBufferPointer { a in
                unsafe withOperand { operand in
                    unsafe MatrixProduct.multiplyTransposed(a.baseAddress!, lda: lda, operand, ldb: ldb,
                                                     into: c.baseAddress!, ldc: ldc, m: m, n: n, k: k, kernel: kernel)
                }
            }
        }
        for i in 0...m {
            for j in 0..<ldc {
                let got = c[i * ldc + j]
                guard i < m, j < n else {
                    #expect(got.isNaN, "C[\(i)][\(j)], outside m × n, was written", sourceLocation: sourceLocation)
                    continue
                }
                var exact = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let term = Double(a[i * lda + p]) * Double(b[j * ldb + p])
                    exact += term
                    magnitude += abs(term)
                }
                // Float accumulation of k products: at most (k + 1) units of 2^-24 of Σ|a·b|.
                // A dropped or doubled term costs about Σ|a·b| / k, far beyond that.
                let error = abs(Double(got) - exact)
                let bound = Double(k + 1) * 0x1p-24 * magnitude
                #expect(error <= bound, "\(format) \(m)×\(n)×\(k) C[\(i)][\(j)] = \(got), expected \(exact)",
                        sourceLocation: sourceLocation)
            }
        }
    }

    private func withOperand(_ body: (MatrixProduct.Operand) -> Void) {
        // Empty arrays still need a pointer: the kernel must not read it when n or k is 0.
        let dummy: [Float] = [0]
        switch format {
        case .f32:
            unsafe (b.isEmpty ? dummy : b).withUnsafeBufferPointer { unsafe body(.f32($0.baseAddress!)) }
        case .f16:
            let values: [Float16] = halves.isEmpty ? [0] : halves
            unsafe values.withUnsafeBufferPointer { unsafe body(.f16($0.baseAddress!)) }
        case .int8:
            let values: [Int8] = levels.isEmpty ? [0] : levels
            let factors = scales.isEmpty ? dummy : scales
            unsafe values.withUnsafeBufferPointer { q in
                unsafe factors.withUnsafeBufferPointer { unsafe body(.int8(q.baseAddress!, scales: $0.baseAddress!)) }
            }
        }
    }
}

/// A seeded generator, so that failures reproduce.
