import Foundation
import Testing
import WeightsEngine

/// The encoder's operations against definitions evaluated in Double.
@Suite struct OperationsTests {
    @Test(arguments: [Operations.Kernel.best, .avx2, .portable])
    func geluIsTheErfFormToFloatPrecision(kernel: Operations.Kernel) {
        // Every 1/64 from -10 to 10: the GELU definition x·Φ(x) with the C library's erf.
        var values = (-640...640).map { Float($0) / 64 }
        unsafe values.withUnsafeMutableBufferPointer { unsafe Operations.gelu($0, kernel: kernel) }
        for (step, got) in zip(-640...640, values) {
            let x = Double(step) / 64
            let expected = 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
            let error: Double = abs(Double(got) - expected)
            let bound: Double = 2e-7 * max(1, abs(x))
            #expect(error <= bound, "GELU(\(x)) = \(got), expected \(expected)")
        }
        // The tanh approximation differs from the erf form by up to about 5e-4: not this.
        let x: Float = 2.5
        var one = [x]
        unsafe one.withUnsafeMutableBufferPointer { unsafe Operations.gelu($0) }
        let inner: Float = 0.797_884_6 * (x + 0.044715 * x * x * x)
        let tanhForm: Float = 0.5 * x * (1 + tanh(inner))
        #expect(abs(one[0] - tanhForm) > 1e-5)
    }

    @Test(arguments: [Operations.Kernel.best, .avx2, .portable])
    func softmaxSumsToOneAndMatchesExp(kernel: Operations.Kernel) {
        var row: [Float] = [1, 2, 3, -1000, 0.5, 80, 79.5, -3]
        let expected = row.map { exp(Double($0) - 80) }
        let total = expected.reduce(0, +)
        unsafe row.withUnsafeMutableBufferPointer { unsafe Operations.softmax($0, kernel: kernel) }
        for (got, value) in zip(row, expected) {
            let error: Double = abs(Double(got) - value / total)
            #expect(error <= 1e-7)
        }
        #expect(abs(row.reduce(0, +) - 1) < 1e-6)
        #expect(row[3] < 1e-30)
    }

    @Test(arguments: [Operations.Kernel.best, .avx2, .portable])
    func softmaxOfLongRowsMatchesDouble(kernel: Operations.Kernel) {
        // Lengths around the 8- and 16-wide vector blocks, values across exp's range.
        for length in [1, 7, 8, 9, 15, 16, 17, 31, 256] {
            var row = (0..<length).map { Float(sin(Double($0) * 1.7) * 40) }
            let largest = row.max()!
            // exp of the Float difference, as the kernel sees it: the subtraction's own
            // rounding is not the kernel's error.
            let exps = row.map { exp(Double($0 - largest)) }
            let sum = exps.reduce(0, +)
            unsafe row.withUnsafeMutableBufferPointer { unsafe Operations.softmax($0, kernel: kernel) }
            for (got, value) in zip(row, exps) {
                let probability: Double = value / sum
                let error: Double = abs(Double(got) - probability)
                #expect(error <= 4e-7 * probability + 1e-38, "length \(length)")
            }
        }
    }

    /// The GELU tails of every vector width: a row of each length from 1 to 40 gives the same
    /// values as the same elements in a long row.
    @Test(arguments: [Operations.Kernel.best, .avx2, .portable])
    func geluTailsMatchFullBlocks(kernel: Operations.Kernel) {
        let source = (0..<40).map { Float($0) / 4 - 5 }
        var whole = source
        unsafe whole.withUnsafeMutableBufferPointer { unsafe Operations.gelu($0, kernel: kernel) }
        for length in 1...40 {
            var part = Array(source.prefix(length))
            unsafe part.withUnsafeMutableBufferPointer { unsafe Operations.gelu($0, kernel: kernel) }
            for (a, b) in zip(part, whole) { #expect(abs(a - b) <= 2 * b.ulp, "length \(length)") }
        }
        print("GELU and softmax kernels: \(Operations.Kernel.bestInstructionSet)")
    }

    @Test func layerNormMatchesDefinition() {
        let count = 384
        var row = (0..<count).map { Float(cos(Double($0) * 0.37) * 3 + 0.25) }
        let gamma = (0..<count).map { Float(1 + Double($0 % 5) * 0.1) }
        let beta = (0..<count).map { Float(Double($0 % 7) * 0.01) }
        let input = row.map(Double.init)
        let mean = input.reduce(0, +) / Double(count)
        let variance = input.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(count)
        unsafe row.withUnsafeMutableBufferPointer { row in
            unsafe gamma.withUnsafeBufferPointer { g in
                unsafe beta.withUnsafeBufferPointer { b in unsafe Operations.layerNorm(row, gamma: g, beta: b, epsilon: 1e-12) }
            }
        }
        for i in 0..<count {
            let normalized: Double = (input[i] - mean) / (variance + 1e-12).squareRoot()
            let expected: Double = normalized * Double(gamma[i]) + Double(beta[i])
            let error: Double = abs(Double(row[i]) - expected)
            #expect(error < 2e-6, "element \(i)")
        }
    }

    @Test func l2NormalizeGivesUnitLengthAndKeepsZero() {
        var vector: [Float] = [3, 4, 0, 0, 0, 0, 0, 0, 12]
        unsafe vector.withUnsafeMutableBufferPointer { unsafe Operations.l2Normalize($0) }
        let expected: [Float] = [3 / 13, 4 / 13, 0, 0, 0, 0, 0, 0, 12 / 13]
        for (got, value) in zip(vector, expected) {
            #expect(abs(got - value) <= value.ulp, "\(got) is not \(value)")
        }
        var zero = [Float](repeating: 0, count: 5)
        unsafe zero.withUnsafeMutableBufferPointer { unsafe Operations.l2Normalize($0) }
        #expect(zero.allSatisfy { $0 == 0 })
    }

    @Test func reductionsHandleEveryTailLength() {
        for length in 0...20 {
            let values = (0..<length).map { Float($0) - 7.5 }
            unsafe values.withUnsafeBufferPointer { buffer in
                unsafe #expect(Operations.sum(buffer) == values.reduce(0, +))
                unsafe #expect(Operations.maximum(buffer) == (values.max() ?? -.infinity))
                let squares: Float = values.reduce(0) { $0 + $1 * $1 }
                unsafe #expect(Operations.dot(buffer, buffer) == squares)
            }
        }
    }
}
