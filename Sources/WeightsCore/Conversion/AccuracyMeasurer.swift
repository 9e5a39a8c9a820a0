/// Scratch space for comparing a converted chunk with its source.
@safe  // Safety: owns the memory its pointers address (allocated at init, freed at deinit), and no pointer leaves its methods.
final class AccuracyMeasurer {
    private let sourceFloats: UnsafeMutableBufferPointer<Float>
    private let convertedFloats: UnsafeMutableBufferPointer<Float>

    init(chunk: Int) {
        // Sound: both buffers are this object's alone, freed once at deinit.
        unsafe sourceFloats = .allocate(capacity: chunk)
        unsafe convertedFloats = .allocate(capacity: chunk)
    }

    deinit {
        // Sound: the last use; no pointer into them leaves a method.
        unsafe sourceFloats.deallocate()
        unsafe convertedFloats.deallocate()
    }

    /// Adds the error of `converted` against `source` to `accuracy`. F64 sources are compared
    /// as `Double`; every other format widens to `Float` exactly.
    func measure(source: UnsafeRawBufferPointer, from: FloatFormat, converted: UnsafeRawBufferPointer, to: FloatFormat,
                 into accuracy: inout AccuracyAccumulator) {
        let count = source.count / from.byteWidth
        // Sound: `count` whole elements in both inputs, at most a chunk, so they fit the scratch
        // buffers (checked here once per chunk, since the slices in `widen` are not); `doubles`
        // holds `count` Doubles, `source.count` bytes, and is freed after its use.
        unsafe precondition(source.count == count * from.byteWidth && converted.count == count * to.byteWidth
                                && count <= sourceFloats.count, "measure: buffers of unlike or oversized counts")
        let approximation = unsafe widen(converted, from: to, into: convertedFloats, count: count)
        if from == .f64 {
            let doubles = UnsafeMutableBufferPointer<Double>.allocate(capacity: count)
            defer { unsafe doubles.deallocate() }
            unsafe UnsafeMutableRawBufferPointer(doubles).copyMemory(from: source)
            unsafe accuracy.add(reference: UnsafeBufferPointer(doubles), approximation: approximation)
        } else {
            unsafe accuracy.add(reference: widen(source, from: from, into: sourceFloats, count: count), approximation: approximation)
        }
    }

    private func widen(_ bytes: UnsafeRawBufferPointer, from: FloatFormat, into floats: UnsafeMutableBufferPointer<Float>,
                       count: Int) -> UnsafeBufferPointer<Float> {
        // Sound: `measure` checked `count <= floats.count` and that `bytes` holds `count`
        // elements; the result points into this object's scratch, used before the next call.
        let target = unsafe UnsafeMutableBufferPointer(rebasing: floats[0..<count])
        unsafe FloatFormat.convert(bytes, from: from, to: .f32, into: UnsafeMutableRawBufferPointer(target))
        return UnsafeBufferPointer(target)
    }
}
