/// Scratch space for comparing a converted chunk with its source.
final class AccuracyMeasurer {
    private let sourceFloats: UnsafeMutableBufferPointer<Float>
    private let convertedFloats: UnsafeMutableBufferPointer<Float>

    init(chunk: Int) {
        sourceFloats = .allocate(capacity: chunk)
        convertedFloats = .allocate(capacity: chunk)
    }

    deinit {
        sourceFloats.deallocate()
        convertedFloats.deallocate()
    }

    /// Adds the error of `converted` against `source` to `accuracy`. F64 sources are compared
    /// as `Double`; every other format widens to `Float` exactly.
    func measure(source: UnsafeRawBufferPointer, from: FloatFormat, converted: UnsafeRawBufferPointer, to: FloatFormat,
                 into accuracy: inout AccuracyAccumulator) {
        let count = source.count / from.byteWidth
        let approximation = widen(converted, from: to, into: convertedFloats, count: count)
        if from == .f64 {
            let doubles = UnsafeMutableBufferPointer<Double>.allocate(capacity: count)
            defer { doubles.deallocate() }
            UnsafeMutableRawBufferPointer(doubles).copyMemory(from: source)
            accuracy.add(reference: UnsafeBufferPointer(doubles), approximation: approximation)
        } else {
            accuracy.add(reference: widen(source, from: from, into: sourceFloats, count: count), approximation: approximation)
        }
    }

    private func widen(_ bytes: UnsafeRawBufferPointer, from: FloatFormat, into floats: UnsafeMutableBufferPointer<Float>,
                       count: Int) -> UnsafeBufferPointer<Float> {
        let target = UnsafeMutableBufferPointer(rebasing: floats[0..<count])
        FloatFormat.convert(bytes, from: from, to: .f32, into: UnsafeMutableRawBufferPointer(target))
        return UnsafeBufferPointer(target)
    }
}
