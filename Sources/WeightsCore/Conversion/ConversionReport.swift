/// How far converted values are from their source: error sizes, signal-to-noise and direction.
///
/// Elements whose source is NaN or infinite are left out (they convert to themselves). A
/// finite value that overflowed makes ``maxAbsoluteError`` and ``rmsError`` infinite.
///
/// ```swift
/// let accuracy = ConversionAccuracy.measure(reference: [1, 2, 3], approximation: [1, 2, 3.001])
/// accuracy.cosineSimilarity   // 0.99999997...
/// ```
public struct ConversionAccuracy: Sendable, Hashable {
    /// The number of values compared.
    public var count: Int
    /// The largest |source − converted|.
    public var maxAbsoluteError: Double
    /// √(Σ(source − converted)² / count); 0 when nothing was compared.
    public var rmsError: Double
    /// 10·log10(Σ source² / Σ (source − converted)²): +∞ when exact, −∞ for a zero source
    /// with an inexact result.
    public var sqnrDecibels: Double
    /// Σ source·converted / (‖source‖·‖converted‖); 1 when both are all zeros, 0 when one is.
    public var cosineSimilarity: Double

    /// Measures `approximation` against `reference`, which must have the same count.
    ///
    /// - Complexity: O(*n*).
    public static func measure(reference: [Float], approximation: [Float]) -> ConversionAccuracy {
        precondition(reference.count == approximation.count, "the arrays differ in length")
        var accumulator = AccuracyAccumulator()
        // Sound: both buffers are the arrays', lent inside the closures.
        unsafe reference.withUnsafeBufferPointer { reference in
            unsafe approximation.withUnsafeBufferPointer { unsafe accumulator.add(reference: reference, approximation: $0) }
        }
        return accumulator.result
    }
}

/// Running sums behind ``ConversionAccuracy``, fed chunk by chunk, merged across threads.
struct AccuracyAccumulator: Sendable {
    var count = 0
    var maxError = 0.0
    var sumSquaredError = 0.0
    var sumSquaredReference = 0.0
    var sumSquaredApproximation = 0.0
    var sumProducts = 0.0

    // Sound: the index runs over `reference`, and `approximation` is checked to be as long.
    mutating func add(reference: UnsafeBufferPointer<Float>, approximation: UnsafeBufferPointer<Float>) {
        precondition(approximation.count == reference.count, "the buffers differ in length")
        for index in reference.indices {
            unsafe add(Double(reference[index]), Double(approximation[index]))
        }
    }

    // Sound: as above.
    mutating func add(reference: UnsafeBufferPointer<Double>, approximation: UnsafeBufferPointer<Float>) {
        precondition(approximation.count == reference.count, "the buffers differ in length")
        for index in reference.indices {
            unsafe add(reference[index], Double(approximation[index]))
        }
    }

    @inline(__always)
    mutating func add(_ reference: Double, _ approximation: Double) {
        guard reference.isFinite else { return }
        let error = (reference - approximation).magnitude
        count += 1
        maxError = Swift.max(maxError, error)
        sumSquaredError += error * error
        sumSquaredReference += reference * reference
        sumSquaredApproximation += approximation * approximation
        sumProducts += reference * approximation
    }

    mutating func merge(_ other: AccuracyAccumulator) {
        count += other.count
        maxError = Swift.max(maxError, other.maxError)
        sumSquaredError += other.sumSquaredError
        sumSquaredReference += other.sumSquaredReference
        sumSquaredApproximation += other.sumSquaredApproximation
        sumProducts += other.sumProducts
    }

    var result: ConversionAccuracy {
        let rms = count == 0 ? 0 : (sumSquaredError / Double(count)).squareRoot()
        let sqnr: Double = if sumSquaredError == 0 {
            .infinity
        } else if sumSquaredReference == 0 {
            -.infinity
        } else {
            10 * log10(sumSquaredReference / sumSquaredError)
        }
        let norms = sumSquaredReference.squareRoot() * sumSquaredApproximation.squareRoot()
        let cosine: Double = if sumSquaredReference == 0, sumSquaredApproximation == 0 {
            1
        } else if norms == 0 || !norms.isFinite {
            norms == 0 ? 0 : .nan
        } else {
            Swift.min(1, sumProducts / norms)
        }
        return ConversionAccuracy(count: count, maxAbsoluteError: maxError, rmsError: rms,
                                  sqnrDecibels: sqnr, cosineSimilarity: cosine)
    }
}

/// What happened to one tensor in a conversion.
public struct TensorConversion: Sendable, Hashable {
    /// The tensor's name (the quantized values' name for INT8).
    public var name: String
    public var sourceDType: DType
    /// The dtype written.
    public var dtype: DType
    public var shape: [Int]
    /// Finite source values that became infinite. `weights convert` warns when this is not 0.
    public var overflowCount: Int
    /// The scale tensor written beside it (quantization) or read with it (dequantization).
    public var scaleTensor: String?
    /// The error of the written values against the source, when it was measured.
    public var accuracy: ConversionAccuracy?
    /// For a weight written in one of compressed-tensors' layouts, its scheme
    /// ("int4 (group 128)", "f8_e4m3 (per channel)"): ``dtype`` is then the stored values'
    /// (I32 for INT4, eight entries to a word). `nil` for the other conversions.
    public var scheme: String?
}

/// Every tensor a conversion changed, in the order they were written.
public struct ConversionReport: Sendable, Hashable {
    /// The tensors whose dtype changed. Tensors copied as they were are not listed.
    public var tensors: [TensorConversion] = []

    public init(tensors: [TensorConversion] = []) { self.tensors = tensors }

    /// Overflows summed over all tensors.
    public var overflowCount: Int { tensors.reduce(0) { $0 + $1.overflowCount } }

    /// The report as one JSON object: `{"tensors": [{"name", "source_dtype", "dtype", "shape",
    /// "overflow_count", "scheme"?, "scale_tensor"?, "count", "max_abs_error", "rms_error",
    /// "sqnr_db", "cosine"}]}`. JSON has no infinity, so an infinite or NaN figure is written as `null`
    /// (an exact conversion has `"sqnr_db": null` and `"max_abs_error": 0`).
    public func json() -> String {
        let entries = tensors.map { tensor -> JSONValue in
            var fields: [(String, JSONValue)] = [
                ("name", .string(tensor.name)),
                ("source_dtype", .string(tensor.sourceDType.rawValue)),
                ("dtype", .string(tensor.dtype.rawValue)),
                ("shape", .array(tensor.shape.map(JSONValue.int))),
                ("overflow_count", .int(tensor.overflowCount)),
            ]
            if let scheme = tensor.scheme { fields.append(("scheme", .string(scheme))) }
            if let scale = tensor.scaleTensor { fields.append(("scale_tensor", .string(scale))) }
            if let accuracy = tensor.accuracy {
                fields += [
                    ("count", .int(accuracy.count)),
                    ("max_abs_error", .double(accuracy.maxAbsoluteError)),
                    ("rms_error", .double(accuracy.rmsError)),
                    ("sqnr_db", .double(accuracy.sqnrDecibels)),
                    ("cosine", .double(accuracy.cosineSimilarity)),
                ]
            }
            return .object(fields)
        }
        return JSONValue.object([("tensors", .array(entries))]).serialized()
    }
}

import WeightsPlatform
