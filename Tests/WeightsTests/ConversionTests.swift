import Testing
import Weights

@Suite("Conversion of buffers")
struct ConversionBufferTests {
    static func convert<S: TensorElement, D: TensorElement>(_ values: [S], to: D.Type, zero: D) -> (values: [D], overflows: Int) {
        var output = [D](repeating: zero, count: values.count)
        let overflows = unsafe values.withUnsafeBufferPointer { source in
            unsafe output.withUnsafeMutableBufferPointer { unsafe FloatFormat.convert(source, into: $0) }
        }
        return (output, overflows)
    }

    @Test("The documented example: ties, overflow, the smallest subnormal's halfway point")
    func example() {
        let (half, overflows) = Self.convert([1, 65519, 65520, 0x1p-25, 0x1.8p-25] as [Float], to: Float16.self, zero: 0)
        #expect(half.map(\.bitPattern) == [0x3C00, 0x7BFF, 0x7C00, 0x0000, 0x0001])
        #expect(overflows == 1)
    }

    @Test("Overflow counts finite values only; NaN keeps its sign; subnormals are produced")
    func specialValues() {
        let source: [Float] = [-.infinity, .infinity, -70000, 1e30, -.nan, .nan, 0x1p-24, -0x1p-130, -0.0]
        let (half, halfOverflows) = Self.convert(source, to: Float16.self, zero: 0)
        #expect(halfOverflows == 2)
        #expect(half[0] == -.infinity && half[1] == .infinity && half[2] == -.infinity)
        #expect(half[4].isNaN && half[4].sign == .minus && half[5].isNaN && half[5].sign == .plus)
        #expect(half[6].bitPattern == 0x0001)  // 2^-24: the smallest F16 subnormal
        #expect(half[7].bitPattern == 0x8000 && half[8].bitPattern == 0x8000)
        let (brain, brainOverflows) = Self.convert(source + [.greatestFiniteMagnitude], to: BFloat16.self, zero: BFloat16(bitPattern: 0))
        #expect(brainOverflows == 1)
        #expect(brain[3].bitPattern == 0x714A)  // 1e30, as ml_dtypes rounds it
        #expect(brain[7].bitPattern == 0x8008)  // -2^-130 is a BF16 subnormal: -8 · 2^-133
        #expect(brain[9].bitPattern == 0x7F80)
    }

    @Test("F64 rounds once to F16 and BF16, where going through F32 would round twice")
    func doubleRoundsOnce() {
        // 1 + 2^-11 + 2^-40: just above the F16 tie between 1 and 1 + 2^-10. Through F32 the
        // 2^-40 is lost, the tie goes to even (1.0). numpy's float64→float16 gives 0x3C01 too.
        let (half, _) = Self.convert([1 + 0x1p-11 + 0x1p-40] as [Double], to: Float16.self, zero: 0)
        #expect(half[0].bitPattern == 0x3C01)
        // 1 + 2^-8 + 2^-40 likewise for BF16 (ml_dtypes, which goes through F32, gives 0x3F80).
        let (brain, _) = Self.convert([1 + 0x1p-8 + 0x1p-40, -(1 + 0x1p-8 + 0x1p-40)] as [Double], to: BFloat16.self,
                                      zero: BFloat16(bitPattern: 0))
        #expect(brain.map(\.bitPattern) == [0x3F81, 0xBF81])
        #expect(Float16(roundingOnce: 1 + 0x1p-11 + 0x1p-40).bitPattern == 0x3C01)
        #expect(BFloat16(1 + 0x1p-8 + 0x1p-40 as Double).bitPattern == 0x3F81)
    }

    @Test("F64 to F16 and BF16 matches the IEEE reference on a million random doubles near every boundary")
    func doublesAgainstReference() {
        var random = SeededGenerator(seed: 42)
        #if DEBUG
        let count = 50_000
        #else
        let count = 1_000_000
        #endif
        let doubles: [Double] = (0..<count).map { index in
            // Random exponents across both formats' ranges (and past them), random 52-bit
            // fractions, and every 4th value built on a tie so the low bits decide.
            let exponent = Int(random.next() % 300) - 160
            var fraction = random.next() & ((1 << 52) - 1)
            if index % 4 == 0 { fraction = (fraction & ~((1 << 45) - 1)) | (1 << 44) | (random.next() & 0xF) }
            let bits = UInt64(exponent + 1023) << 52 | fraction | (random.next() & 1) << 63
            return Double(bitPattern: bits)
        }
        for (format, reference) in [(FloatFormat.f16, ReferenceFormat.binary16), (.bf16, .bfloat16)] {
            var output = [UInt16](repeating: 0, count: count)
            let overflows = unsafe doubles.withUnsafeBytes { input in
                unsafe output.withUnsafeMutableBytes { unsafe FloatFormat.convert(input, from: .f64, to: format, into: $0) }
            }
            let expected = doubles.map { reference.round(binary64: $0) }
            let wrong = doubles.indices.filter { output[$0] != expected[$0] }
            #expect(wrong.isEmpty, "\(format): first \(wrong.first.map { doubles[$0] } ?? 0)")
            #expect(overflows == expected.filter { reference.isInfinite($0) }.count)
        }
    }

    @Test("Every pair of formats rounds once from the exact source value", arguments: FloatFormat.allCases)
    func allPairs(from: FloatFormat) throws {
        // Source values: every byte pattern for 8-bit formats, else a spread of bit patterns.
        var random = SeededGenerator(seed: 9)
        let count = from.byteWidth == 1 ? 256 : 4096
        let bytes: [UInt8] = from.byteWidth == 1
            ? (0...255).map { UInt8($0) }
            : (0..<count * from.byteWidth).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let exact = try Tensor(name: "x", dtype: from.dtype, shape: [count], bytes: bytes)
        var doubles = [Double](repeating: 0, count: count)
        unsafe exact.withUnsafeBytes { input in
            unsafe doubles.withUnsafeMutableBytes { _ = unsafe FloatFormat.convert(input, from: from, to: .f64, into: $0) }
        }
        for to in FloatFormat.allCases where to.isWritable {
            var output = [UInt8](repeating: 0, count: count * to.byteWidth)
            unsafe bytes.withUnsafeBytes { input in
                unsafe output.withUnsafeMutableBytes { _ = unsafe FloatFormat.convert(input, from: from, to: to, into: $0) }
            }
            for index in 0..<count {
                let value = doubles[index]
                let same: Bool = unsafe output.withUnsafeBytes { out in
                    switch to {
                    case .f64:
                        let got = unsafe out.loadUnaligned(fromByteOffset: index * 8, as: Double.self)
                        return got.bitPattern == value.bitPattern || (got.isNaN && value.isNaN)
                    case .f32:
                        let got = unsafe out.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
                        return got.bitPattern == Float(value).bitPattern || (got.isNaN && value.isNaN && got.sign == value.sign)
                    case .f16, .bf16:
                        let got = unsafe out.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)
                        let reference = to == .f16 ? ReferenceFormat.binary16 : .bfloat16
                        let expected = reference.round(binary64: value)
                        let isNaN = value.isNaN && got & reference.infinityBits == reference.infinityBits && !reference.isInfinite(got)
                        return got == expected || (isNaN && got & reference.signBit == expected & reference.signBit)
                    case .f8E4M3, .f8E5M2:
                        return false
                    }
                }
                #expect(same, "\(from) → \(to), element \(index) = \(value)")
                if !same { break }
            }
        }
    }

    @Test("Misaligned buffers give the same bytes as aligned ones", arguments: [FloatFormat.f16, .bf16])
    func misaligned(to: FloatFormat) {
        var random = SeededGenerator(seed: 3)
        let floats = (0..<1000).map { _ in Float(random.nextNormal()) * 100 }
        var aligned = [UInt8](repeating: 0, count: 2000)
        unsafe floats.withUnsafeBytes { input in unsafe aligned.withUnsafeMutableBytes { _ = unsafe FloatFormat.convert(input, from: .f32, to: to, into: $0) } }
        let shiftedInput = unsafe [UInt8](repeating: 0, count: 1) + floats.withUnsafeBytes { unsafe Array($0) }
        var shiftedOutput = [UInt8](repeating: 0, count: 2001)
        unsafe shiftedInput.withUnsafeBytes { input in
            unsafe shiftedOutput.withUnsafeMutableBytes { output in
                _ = unsafe FloatFormat.convert(UnsafeRawBufferPointer(rebasing: input[1...]), from: .f32, to: to,
                                        into: UnsafeMutableRawBufferPointer(rebasing: output[1...]))
            }
        }
        #expect(Array(shiftedOutput[1...]) == aligned)
        var back = [Float](repeating: 0, count: 1000)
        unsafe shiftedOutput.withUnsafeBytes { input in
            unsafe back.withUnsafeMutableBytes { _ = unsafe FloatFormat.convert(UnsafeRawBufferPointer(rebasing: input[1...]), from: to, to: .f32, into: $0) }
        }
        var direct = [Float](repeating: 0, count: 1000)
        unsafe aligned.withUnsafeBytes { input in unsafe direct.withUnsafeMutableBytes { _ = unsafe FloatFormat.convert(input, from: to, to: .f32, into: $0) } }
        #expect(back == direct)
    }

    @Test("Tensor.floats() widens every readable float dtype")
    func tensorFloats() throws {
        let values: [Float] = [1.5, -2.25, 0x1p-20, 49152]
        #expect(try Tensor(name: "a", shape: [4], elements: values).floats() == values)
        #expect(try Tensor(name: "a", shape: [4], elements: values.map { Float16($0) }).floats() == values)
        #expect(try Tensor(name: "a", shape: [4], elements: values.map { BFloat16($0) }).floats() == values)
        #expect(try Tensor(name: "a", shape: [4], elements: values.map { Double($0) }).floats() == values)
        #expect { try Tensor(name: "a", shape: [1], elements: [1] as [Int32]).floats() } throws: {
            ($0 as? WeightsError)?.code == .dtypeMismatch
        }
    }

    @Test("ConversionTarget parses the CLI names")
    func targets() {
        #expect(ConversionTarget("f16") == .float(.f16))
        #expect(ConversionTarget("BF16") == .float(.bf16))
        #expect(ConversionTarget("f32") == .float(.f32))
        #expect(ConversionTarget("int8") == .int8)
        #expect(ConversionTarget("f8") == nil)
        #expect(ConversionTarget.int8.dtype == .i8 && ConversionTarget.float(.bf16).description == "bf16")
    }
}

@Suite("Conversion accuracy")
struct ConversionAccuracyTests {
    @Test("Known answers for error, SQNR and cosine")
    func knownAnswers() {
        let exact = ConversionAccuracy.measure(reference: [3, 4], approximation: [3, 4])
        #expect(exact.maxAbsoluteError == 0 && exact.rmsError == 0 && exact.sqnrDecibels == .infinity)
        #expect(exact.cosineSimilarity == 1)
        let off = ConversionAccuracy.measure(reference: [1, 2], approximation: [1, 2.5])
        #expect(off.maxAbsoluteError == 0.5)
        #expect(off.rmsError == (0.125 as Double).squareRoot())
        #expect((off.sqnrDecibels - 13.010299956639813).magnitude < 1e-12)  // 10·log10(5 / 0.25)
        #expect((off.cosineSimilarity - 6 / (5.0.squareRoot() * 7.25.squareRoot())).magnitude < 1e-15)
        #expect(ConversionAccuracy.measure(reference: [1, 0], approximation: [0, 1]).cosineSimilarity == 0)
        #expect(ConversionAccuracy.measure(reference: [0, 0], approximation: [0, 0]).cosineSimilarity == 1)
        #expect(ConversionAccuracy.measure(reference: [0], approximation: [1]).sqnrDecibels == -.infinity)
        let overflowed = ConversionAccuracy.measure(reference: [70000, .nan], approximation: [.infinity, .nan])
        #expect(overflowed.count == 1 && overflowed.maxAbsoluteError == .infinity)
    }
}

import WeightsPlatform
