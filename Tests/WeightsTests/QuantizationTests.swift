import Testing
import Weights

@Suite("INT8 quantization")
struct QuantizationTests {
    /// Runs `quantizeRows` on arrays.
    static func quantize(_ values: [Float], rows: Int, kernel: ConversionKernel = .best) throws(WeightsError) -> (q: [Int8], scales: [Float]) {
        var q = [Int8](repeating: 99, count: values.count)
        var scales = [Float](repeating: -1, count: rows)
        unsafe try values.withUnsafeBufferPointer { values throws(WeightsError) in
            unsafe try q.withUnsafeMutableBufferPointer { q throws(WeightsError) in
                unsafe try scales.withUnsafeMutableBufferPointer { scales throws(WeightsError) in
                    unsafe try Int8Quantization.quantizeRows(values, rows: rows, into: q, scales: scales, kernel: kernel)
                }
            }
        }
        return (q, scales)
    }

    static func dequantize(_ q: [Int8], scales: [Float]) throws(WeightsError) -> [Float] {
        var values = [Float](repeating: .nan, count: q.count)
        unsafe try q.withUnsafeBufferPointer { q throws(WeightsError) in
            unsafe try scales.withUnsafeBufferPointer { scales throws(WeightsError) in
                unsafe try values.withUnsafeMutableBufferPointer { values throws(WeightsError) in
                    unsafe try Int8Quantization.dequantizeRows(q, scales: scales, rows: scales.count, into: values)
                }
            }
        }
        return values
    }

    @Test("Known answers: scale = max|row| / 127, ties to even, a zero row gets scale 0")
    func knownAnswers() throws {
        let (q, scales) = try Self.quantize([0.5, -1, 0.25, 0, 0, 0], rows: 2)
        #expect(q == [64, -127, 32, 0, 0, 0])  // 0.5 · 127 = 63.5 → 64 (even); 0.25 · 127 = 31.75 → 32
        #expect(scales == [Float(1) / 127, 0])
    }

    @Test("Halfway levels round to even, in both directions")
    func tiesToEven() throws {
        // max 127 gives scale exactly 1, so each value is its own level.
        let (q, scales) = try Self.quantize([127, 2.5, 3.5, -2.5, -3.5, 0.5, -0.5, 126.5], rows: 1)
        #expect(scales == [1])
        #expect(q == [127, 2, 4, -2, -4, 0, 0, 126])
    }

    @Test("The largest magnitude maps to ±127, never to -128")
    func symmetricRange() throws {
        let (q, scales) = try Self.quantize([-254, 2, 254, -127], rows: 1)
        #expect(scales == [2])
        #expect(q == [-127, 1, 127, -64])  // -127 / 2 = -63.5 → -64, the even neighbour
        let random = (0..<4096).map { _ in Float.random(in: -5...5) }
        let (levels, _) = try Self.quantize(random, rows: 16)
        #expect(levels.allSatisfy { $0 >= -127 })
    }

    @Test("The AVX2 and portable kernels agree on every value, ties and ragged row ends included")
    func kernelsAgree() throws {
        var random = SeededGenerator(seed: 21)
        // Rows of 67 (not a multiple of the vector width), with values on exact level ties.
        let values: [Float] = (0..<67 * 300).map { index in
            index % 5 == 0 ? Float(Int(random.next() % 255) - 127) + 0.5 : Float(random.nextNormal()) * 0.1
        }
        let best = try Self.quantize(values, rows: 300, kernel: .best)
        let portable = try Self.quantize(values, rows: 300, kernel: .portable)
        #expect(best.q == portable.q)
        #expect(best.scales == portable.scales)
        #expect(throws: WeightsError.self) { try Self.quantize([1, .infinity] + [Float](repeating: 0, count: 30), rows: 1, kernel: .portable) }
        #expect(throws: WeightsError.self) { try Self.quantize([Float](repeating: 1, count: 30) + [.nan, 2], rows: 1, kernel: .best) }
    }

    @Test("Dequantizing restores every value within half a scale step")
    func roundTrip() throws {
        var generator = SeededGenerator(seed: 7)
        let values = (0..<64 * 100).map { _ in Float(generator.nextNormal()) * 0.02 }
        let (q, scales) = try Self.quantize(values, rows: 64)
        let restored = try Self.dequantize(q, scales: scales)
        for row in 0..<64 {
            for column in 0..<100 {
                let index = row * 100 + column
                #expect((restored[index] - values[index]).magnitude <= scales[row] / 2 * 1.0001)
            }
        }
        #expect(ConversionAccuracy.measure(reference: values, approximation: restored).cosineSimilarity > 0.9999)
    }

    @Test("A row with NaN or infinity is an error naming the row", arguments: [Float.nan, .infinity, -.infinity])
    func nonFinite(bad: Float) {
        #expect(throws: WeightsError.self) { try Self.quantize([1, 2, 3, 4, bad, 6], rows: 2) }
        do {
            _ = try Self.quantize([1, 2, 3, 4, bad, 6], rows: 2)
        } catch {
            #expect(error.code == .invalidData)
            #expect(error.reason.contains("row 1"))
        }
    }

    @Test("Buffers that disagree are errors, not traps")
    func sizeMismatch() {
        #expect(throws: WeightsError.self) { try Self.quantize([1, 2, 3], rows: 2) }
        #expect(throws: WeightsError.self) { try Self.quantize([1, 2, 3], rows: 0) }
        #expect(throws: WeightsError.self) { try Self.dequantize([1, 2, 3], scales: [1, 1]) }
        #expect(throws: Never.self) { try Self.quantize([], rows: 0) }
    }

    @Test("Scale shapes keep the rank: [rows, 1, ...]")
    func scaleShapes() {
        #expect(Int8Quantization.scaleShape(for: [384, 1536]) == [384, 1])
        #expect(Int8Quantization.scaleShape(for: [4, 3, 5]) == [4, 1, 1])
        #expect(Int8Quantization.scaleShape(for: [0, 4]) == [0, 1])
        #expect(Int8Quantization.scaleName(for: "x.weight") == "x.weight_scale")
        #expect(Int8Quantization.isQuantizable(dtype: .bf16, shape: [2, 2]))
        #expect(!Int8Quantization.isQuantizable(dtype: .f32, shape: [8]))
        #expect(!Int8Quantization.isQuantizable(dtype: .i32, shape: [2, 2]))
    }

    @Test("Tensor API: F16, BF16 and F64 weights quantize as the numpy rendering does")
    func tensorsMatchGolden() throws {
        let source = try SafetensorsFile(path: ConversionFixtures.path("source.safetensors"))
        let expected = try SafetensorsFile(path: ConversionFixtures.path("expected_int8.safetensors"))
        for name in ["encoder.weight", "conv.weight", "double.weight", "half.weight", "brain.weight"] {
            let (values, scales) = try Int8Quantization.quantize(source.tensor(named: name))
            #expect(values.copyBytes() == (try expected.tensor(named: name).copyBytes()), "\(name)")
            #expect(scales.name == name + "_scale")
            #expect(scales.copyBytes() == (try expected.tensor(named: name + "_scale").copyBytes()), "\(name)")
            let restored = try Int8Quantization.dequantize(values, scales: scales)
            #expect(restored.dtype == .f32 && restored.shape == values.shape)
        }
    }

    @Test("Tensor API errors: rank 1, integers, NaN rows and mismatched pairs")
    func tensorErrors() throws {
        let vector = try Tensor(name: "bias", shape: [3], elements: [1, 2, 3] as [Float])
        #expect { try Int8Quantization.quantize(vector) } throws: { ($0 as? WeightsError)?.code == .dtypeMismatch }
        let integers = try Tensor(name: "ids", shape: [1, 2], elements: [1, 2] as [Int32])
        #expect { try Int8Quantization.quantize(integers) } throws: { ($0 as? WeightsError)?.code == .dtypeMismatch }
        let broken = try Tensor(name: "w", shape: [2, 2], elements: [1, 2, .nan, 4] as [Float])
        #expect {
            try Int8Quantization.quantize(broken)
        } throws: { error in
            let error = error as? WeightsError
            return error?.code == .invalidData && error?.tensor == "w" && error?.reason.contains("row 1") == true
        }
        let q = try Tensor(name: "w", shape: [2, 2], elements: [1, 2, 3, 4] as [Int8])
        let wrongShape = try Tensor(name: "w_scale", shape: [2], elements: [1, 1] as [Float])
        #expect { try Int8Quantization.dequantize(q, scales: wrongShape) } throws: { ($0 as? WeightsError)?.code == .invalidData }
        let wrongType = try Tensor(name: "w_scale", shape: [2, 1], elements: [1, 1] as [Float16])
        #expect { try Int8Quantization.dequantize(q, scales: wrongType) } throws: { ($0 as? WeightsError)?.code == .dtypeMismatch }
    }

    @Test("A row whose scale underflows is stored as zeros, not as NaN")
    func underflowingScale() throws {
        let tiny = Float(bitPattern: 5)  // 5 · 2^-149: / 127 underflows to 0
        let (q, scales) = try Self.quantize([tiny, -tiny, 0, tiny], rows: 1)
        #expect(scales == [0])
        #expect(q == [0, 0, 0, 0])
    }
}

import WeightsPlatform
