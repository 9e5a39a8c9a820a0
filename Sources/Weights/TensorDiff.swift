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
            try compareTensor(a.tensor(named: common[index].name), b.tensor(named: common[index].name))
        }
        return TensorDiff(onlyInA: a.tensors.filter { namesB[UTF8Key($0.name)] == nil },
                          onlyInB: b.tensors.filter { !namesA.contains(UTF8Key($0.name)) },
                          changes: changes.compactMap { $0 })
    }

    static func compareTensor(_ a: Tensor, _ b: Tensor) -> Change? {
        var change = Change(name: a.name, dtypes: (a.dtype, b.dtype), shapes: (a.shape, b.shape))
        guard a.shape == b.shape else { return change }
        let sameBytes = a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.elementsEqual(y) } }
        if sameBytes, a.dtype == b.dtype { return nil }
        if let readA = NumericReader(a.dtype), let readB = NumericReader(b.dtype) {
            var differing = 0
            var largest = 0.0
            // With one dtype, an element differs when its bytes do (so -0 differs from +0, and
            // 64-bit integers beyond 2^53 are told apart); across dtypes, when its value does.
            let width = a.dtype == b.dtype ? a.dtype.byteWidth : nil
            a.withUnsafeBytes { x in
                b.withUnsafeBytes { y in
                    for index in 0..<a.elementCount {
                        let (u, v) = (readA.value(x, index), readB.value(y, index))
                        if u.isNaN && v.isNaN { continue }
                        if let width {
                            if x[index * width..<(index + 1) * width].elementsEqual(y[index * width..<(index + 1) * width]) { continue }
                        } else if u == v { continue }
                        differing += 1
                        largest = max(largest, u.isNaN || v.isNaN ? .infinity : (u - v).magnitude)
                    }
                }
            }
            change.differingElements = differing
            change.maxAbsDifference = largest
        } else {
            change.differingElements = sameBytes ? 0 : differingChunks(a, b)
        }
        return change
    }

    /// For dtypes without a numeric reading: elements (or packed bytes) that differ.
    static func differingChunks(_ a: Tensor, _ b: Tensor) -> Int {
        guard a.byteCount == b.byteCount else { return a.elementCount }
        let width = a.dtype.byteWidth ?? 1
        return a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                stride(from: 0, to: x.count, by: width).filter { !x[$0..<$0 + width].elementsEqual(y[$0..<$0 + width]) }.count
            }
        }
    }
}

/// Reads elements of a dtype as `Double`, exactly.
struct NumericReader {
    let value: (UnsafeRawBufferPointer, Int) -> Double

    init?(_ dtype: DType) {
        if let format = FloatFormat(dtype) {
            value = { format.load($0, at: $1) }
            return
        }
        switch dtype {
        case .bool, .u8: value = { Double($0[$1]) }
        case .i8: value = { Double(Int8(bitPattern: $0[$1])) }
        case .i16: value = { Double($0.loadUnaligned(fromByteOffset: $1 * 2, as: Int16.self)) }
        case .u16: value = { Double($0.loadUnaligned(fromByteOffset: $1 * 2, as: UInt16.self)) }
        case .i32: value = { Double($0.loadUnaligned(fromByteOffset: $1 * 4, as: Int32.self)) }
        case .u32: value = { Double($0.loadUnaligned(fromByteOffset: $1 * 4, as: UInt32.self)) }
        // 64-bit integers beyond 2^53 round as Double: the difference is then approximate.
        case .i64: value = { Double($0.loadUnaligned(fromByteOffset: $1 * 8, as: Int64.self)) }
        case .u64: value = { Double($0.loadUnaligned(fromByteOffset: $1 * 8, as: UInt64.self)) }
        default: return nil
        }
    }
}
