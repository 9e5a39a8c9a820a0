import WeightsCore
/// What differs between two sets of tensors: names, dtypes, shapes and values.
///
/// Values are compared as numbers, across dtypes: an F32 tensor and its F64 widening have no
/// differing elements. Two NaNs are equal; a NaN against a number differs by infinity.
///
/// ```swift
/// let diff = try TensorDiff.compare(try Checkpoint.open("base"), try Checkpoint.open("tuned"))
/// for change in diff.changes { print(change.name, change.differingElements) }
/// ```
public struct TensorDiff: Sendable {
    /// A tensor present on both sides whose dtype, shape or values differ.
    public struct Change: Sendable, Hashable {
        public var name: String
        public var dtypes: (DType, DType)
        public var shapes: ([Int], [Int])
        /// Elements whose values differ, or `nil` when the shapes differ.
        public var differingElements: Int?
        /// The largest absolute difference, or `nil` when it can't be computed (different
        /// shapes; dtypes without a numeric reading, compared byte for byte).
        public var maxAbsDifference: Double?

        public static func == (lhs: Change, rhs: Change) -> Bool {
            lhs.name == rhs.name && lhs.dtypes == rhs.dtypes && lhs.shapes == rhs.shapes
                && lhs.differingElements == rhs.differingElements && lhs.maxAbsDifference == rhs.maxAbsDifference
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(name) }
    }

    public var onlyInA: [TensorInfo]
    public var onlyInB: [TensorInfo]
    public var changes: [Change]

    /// Whether both sides hold the same tensors with the same dtypes, shapes and bytes.
    public var isIdentical: Bool { onlyInA.isEmpty && onlyInB.isEmpty && changes.isEmpty }

    /// Compares every tensor of `a` with its namesake in `b`, on all cores.
    public static func compare(_ a: any TensorSource, _ b: any TensorSource) throws -> TensorDiff {
        let namesB = Dictionary(b.tensors.map { (UTF8Key($0.name), $0) }, uniquingKeysWith: { x, _ in x })
        let namesA = Set(a.tensors.map { UTF8Key($0.name) })
        let common = a.tensors.filter { namesB[UTF8Key($0.name)] != nil }
        let changes = try ParallelMap.run(count: common.count, cost: { common[$0].byteCount }) { index in
            let (tensorA, tensorB) = (try a.tensor(named: common[index].name), try b.tensor(named: common[index].name))
            let change = compareTensor(tensorA, tensorB)
            try tensorA.checkUnchanged()
            try tensorB.checkUnchanged()
            return change
        }
        try a.checkUnchanged()
        try b.checkUnchanged()
        return TensorDiff(onlyInA: a.tensors.filter { namesB[UTF8Key($0.name)] == nil },
                          onlyInB: b.tensors.filter { !namesA.contains(UTF8Key($0.name)) },
                          changes: changes.compactMap { $0 })
    }

    static func compareTensor(_ a: Tensor, _ b: Tensor) -> Change? {
        var change = Change(name: a.name, dtypes: (a.dtype, b.dtype), shapes: (a.shape, b.shape))
        guard a.shape == b.shape else { return change }
        // Sound: both buffers are valid inside the closures; memcmp reads `x.count` bytes of
        // each, after checking the counts are equal.
        let sameBytes = unsafe a.withUnsafeBytes { x in
            unsafe b.withUnsafeBytes { y in unsafe x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0) }
        }
        if sameBytes, a.dtype == b.dtype { return nil }
        if let readA = NumericReader(a.dtype), let readB = NumericReader(b.dtype) {
            (change.differingElements, change.maxAbsDifference) = compareValues(a, readA, b, readB)
        } else {
            change.differingElements = sameBytes ? 0 : differingChunks(a, b)
        }
        return change
    }

    /// Compares element values in blocks widened to `Double`, so memory stays bounded.
    ///
    /// With one dtype, an element differs when its bytes do (so -0 differs from +0, and 64-bit
    /// integers beyond 2^53 are told apart); across dtypes, when its value does.
    static func compareValues(_ a: Tensor, _ readA: NumericReader, _ b: Tensor, _ readB: NumericReader) -> (Int, Double) {
        let block = 16_384
        let width = a.dtype == b.dtype ? a.dtype.byteWidth : nil
        var differing = 0
        var largest = 0.0
        var valuesA = [Double](repeating: 0, count: block)
        var valuesB = [Double](repeating: 0, count: block)
        // Sound: the buffers are valid inside the closures and hold `elementCount` elements
        // each (equal shapes; Tensor checks that its bytes span its shape), so every range read
        // and every `width`-byte slice (same dtype) lies in both.
        unsafe a.withUnsafeBytes { x in
            unsafe b.withUnsafeBytes { y in
                for start in stride(from: 0, to: a.elementCount, by: block) {
                    let range = start..<min(start + block, a.elementCount)
                    unsafe readA.read(x, range, into: &valuesA)
                    unsafe readB.read(y, range, into: &valuesB)
                    for index in range {
                        let (u, v) = (valuesA[index - start], valuesB[index - start])
                        if u.isNaN && v.isNaN { continue }
                        if let width {
                            if unsafe x[index * width..<(index + 1) * width].elementsEqual(y[index * width..<(index + 1) * width]) { continue }
                        } else if u == v { continue }
                        differing += 1
                        largest = max(largest, u.isNaN || v.isNaN ? .infinity : (u - v).magnitude)
                    }
                }
            }
        }
        return (differing, largest)
    }

    /// For dtypes without a numeric reading: elements (or packed bytes) that differ.
    static func differingChunks(_ a: Tensor, _ b: Tensor) -> Int {
        guard a.byteCount == b.byteCount else { return a.elementCount }
        let width = a.dtype.byteWidth ?? 1
        // Sound: equal byte counts (checked above), a whole number of `width`-byte elements, so
        // each slice lies in both buffers, valid inside the closures.
        return unsafe a.withUnsafeBytes { x in
            unsafe b.withUnsafeBytes { y in
                stride(from: 0, to: x.count, by: width).filter { unsafe !x[$0..<$0 + width].elementsEqual(y[$0..<$0 + width]) }.count
            }
        }
    }
}

/// Reads elements of a dtype as `Double`.
struct NumericReader {
    let dtype: DType

    /// `nil` for dtypes without a numeric reading here (packed, complex, exotic 8-bit floats).
    init?(_ dtype: DType) {
        switch dtype {
        case .f64, .f32, .f16, .bf16, .f8E4M3, .f8E5M2, .bool, .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64:
            self.dtype = dtype
        default:
            return nil
        }
    }

    /// Widens the elements in `range` into the front of `values`. Exact, except for 64-bit
    /// integers beyond 2^53, which round.
    func read(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, into values: inout [Double]) {
        // Sound: the caller passes a tensor's bytes and a range of its elements, so every
        // element read lies in `bytes`; `values` has room for `range.count` (a block); any bit
        // pattern is a valid integer.
        if let format = FloatFormat(dtype) {
            let width = format.byteWidth
            let source = unsafe UnsafeRawBufferPointer(rebasing: bytes[range.lowerBound * width..<range.upperBound * width])
            _ = unsafe values.withUnsafeMutableBytes { unsafe FloatFormat.convert(source, from: format, to: .f64, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<range.count * 8])) }
            return
        }
        for (slot, index) in range.enumerated() {
            values[slot] = switch dtype {
            case .bool, .u8: unsafe Double(bytes[index])
            case .i8: unsafe Double(Int8(bitPattern: bytes[index]))
            case .i16: unsafe Double(bytes.loadUnaligned(fromByteOffset: index * 2, as: Int16.self))
            case .u16: unsafe Double(bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
            case .i32: unsafe Double(bytes.loadUnaligned(fromByteOffset: index * 4, as: Int32.self))
            case .u32: unsafe Double(bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
            case .i64: unsafe Double(bytes.loadUnaligned(fromByteOffset: index * 8, as: Int64.self))
            default: unsafe Double(bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
            }
        }
    }
}

import WeightsPlatform
