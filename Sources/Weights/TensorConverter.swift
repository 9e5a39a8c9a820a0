import Synchronization

/// Converts every floating tensor of a source to a ``ConversionTarget``, tensor by tensor, in
/// bounded memory.
///
/// - `.float(f)`: floating tensors (F64, F32, F16, BF16, F8_E4M3, F8_E5M2) become `f`, rounded
///   once to nearest, ties to even. INT8 pairs of a quantized source (see ``Int8Quantization``)
///   are dequantized into `f` and their scales dropped, with the quantization metadata entry.
/// - `.int8`: floating tensors of rank 2 or more become I8 values plus F32 scales, and the
///   metadata records the scheme; rank 0 and 1 tensors keep their dtype.
///
/// Integer, boolean and complex tensors, and float formats that cannot be read (F4, F6, the
/// FNUZ and E8M0 formats), are copied byte for byte. The output is laid out canonically, so
/// converting a file the reference wrote gives the file the reference would write for the
/// converted tensors.
///
/// ```swift
/// let converter = try TensorConverter(source: Checkpoint.open("model.safetensors"), target: .float(.f16))
/// let report = try converter.write(to: "model-f16.safetensors", measuringAccuracy: true)
/// for tensor in report.tensors where tensor.overflowCount > 0 { print(tensor.name) }
/// ```
///
/// Memory: tensors are read through the source's mapping and converted in chunks of about a
/// million elements, two chunks at a time (one being converted, one being written), so the
/// heap stays under 50 MiB whatever the file size.
public final class TensorConverter: @unchecked Sendable {
    public let source: any TensorSource
    public let target: ConversionTarget
    /// The tensors written, in the source's order; a quantized tensor is followed by its
    /// scales.
    public let outputs: [TensorDescriptor]
    /// The metadata written.
    public let metadata: [String: String]?
    private let plans: [UTF8Key: Plan]

    /// Elements per chunk: large enough that per-chunk costs vanish, small enough to stay in
    /// the last-level cache alongside its output.
    static let chunkElements = 1 << 20

    /// Plans the conversion of `source` to `target`; nothing is read yet.
    ///
    /// - Throws: `invalidArgument` when a quantized tensor's scale name is already taken, or
    ///   when a quantized source's scale tensor has the wrong dtype or shape.
    /// - Complexity: O(*t*) for *t* tensors.
    public init(source: any TensorSource, target: ConversionTarget) throws {
        self.source = source
        self.target = target
        let planned = try WeightsError.tagging(file: source.path) { try Self.plan(source, target) }
        outputs = planned.map(\.output)
        plans = Dictionary(planned.map { (UTF8Key($0.output.name), $0) }, uniquingKeysWith: { first, _ in first })
        metadata = Self.outputMetadata(source.metadata, target: target)
    }

    /// Writes the converted tensors to a safetensors file at `path`, atomically.
    ///
    /// - Parameter measuringAccuracy: also compare every converted value with its source
    ///   (one more pass over each chunk, while it is in cache).
    /// - Returns: What happened to each converted tensor: overflows always, accuracy when
    ///   measured. Copied tensors are not listed.
    /// - Throws: `invalidArgument` naming the tensor and row when INT8 meets NaN or infinity;
    ///   the reader's and writer's errors.
    /// - Complexity: O(*n*) in the total size, one read of each source byte (two for INT8).
    public func write(to path: String, measuringAccuracy: Bool = false) throws -> ConversionReport {
        let writer = try SafetensorsWriter(path: path, tensors: outputs, metadata: metadata)
        var records: [UTF8Key: TensorConversion] = [:]
        while let next = writer.nextTensor {
            let plan = plans[UTF8Key(next.name)]!
            let record = try WeightsError.tagging(file: source.path) {
                try convert(plan, measuringAccuracy: measuringAccuracy) { bytes in try writer.write(bytes) }
            }
            if let record { records[UTF8Key(record.name)] = record }
            try source.checkUnchanged()
        }
        try source.checkUnchanged()
        try writer.finish()
        // The writer skips tensors with no bytes; they are still converted, in name and dtype.
        for plan in plans.values where (try? plan.output.byteCount()) == 0 {
            if let record = try convert(plan, measuringAccuracy: measuringAccuracy, into: { _ in }) {
                records[UTF8Key(record.name)] = record
            }
        }
        // Report in the source's order, which people know, rather than the file's.
        return ConversionReport(tensors: outputs.compactMap { records[UTF8Key($0.name)] })
    }

    /// The converted tensor named `name` (one of ``outputs``), in memory.
    ///
    /// - Throws: `tensorNotFound`; the conversion's errors.
    /// - Complexity: O(*n*) time and memory for the tensor.
    public func tensor(named name: String) throws -> Tensor {
        try convertedTensor(named: name, measuringAccuracy: false).tensor
    }

    /// The converted tensor named `name`, in memory, with what happened to it (`nil` for a
    /// tensor copied as it was, or for the scales of a quantized tensor).
    public func convertedTensor(named name: String, measuringAccuracy: Bool) throws -> (tensor: Tensor, record: TensorConversion?) {
        guard let plan = plans[UTF8Key(name)] else {
            throw WeightsError(.tensorNotFound, "no tensor named '\(name)' in the converted output",
                               file: source.path, tensor: name)
        }
        let byteCount = try plan.output.byteCount()
        var filled = 0
        var record: TensorConversion?
        let storage = try ByteStorage.allocate(count: byteCount) { buffer in
            record = try WeightsError.tagging(file: source.path) {
                try convert(plan, measuringAccuracy: measuringAccuracy) { bytes in
                    UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<filled + bytes.count]).copyMemory(from: bytes)
                    filled += bytes.count
                }
            }
        }
        let info = TensorInfo(name: name, dtype: plan.output.dtype, shape: plan.output.shape, dataOffsets: 0..<byteCount)
        return (Tensor(info: info, storage: storage, bytes: storage.bytes), record)
    }

    /// The converted tensors as a ``TensorSource``, for writers that take one (such as
    /// ``ShardedWriter``). Each tensor is converted when asked for, whole, in memory; the
    /// source collects what happened in its ``ConvertedTensorSource/report``.
    public func convertedSource(measuringAccuracy: Bool = false) -> ConvertedTensorSource {
        ConvertedTensorSource(self, measuringAccuracy: measuringAccuracy)
    }
}

// MARK: - Planning

extension TensorConverter {
    struct Plan {
        var output: TensorDescriptor
        var source: TensorInfo
        var action: Action
    }

    enum Action {
        case copy
        case cast(from: FloatFormat, to: FloatFormat)
        case quantizedValues(from: FloatFormat)
        case quantizedScales(from: FloatFormat)
        case dequantize(scales: TensorInfo, to: FloatFormat)
    }

    static func plan(_ source: any TensorSource, _ target: ConversionTarget) throws -> [Plan] {
        let pairs = try quantizedPairs(source)
        let scaleNames = Set(pairs.values.map { UTF8Key($0.name) })
        var plans: [Plan] = []
        for info in source.tensors {
            let copy = Plan(output: info.descriptor, source: info, action: .copy)
            if scaleNames.contains(UTF8Key(info.name)) {
                if case .int8 = target { plans.append(copy) }  // kept with its values; dropped otherwise
                continue
            }
            if let scales = pairs[UTF8Key(info.name)] {
                guard case .float(let format) = target else {
                    plans.append(copy)
                    continue
                }
                plans.append(Plan(output: TensorDescriptor(name: info.name, dtype: format.dtype, shape: info.shape),
                                  source: info, action: .dequantize(scales: scales, to: format)))
                continue
            }
            guard let format = FloatFormat(info.dtype) else {
                plans.append(copy)
                continue
            }
            switch target {
            case .float(let to) where to == format:
                plans.append(copy)
            case .float(let to):
                plans.append(Plan(output: TensorDescriptor(name: info.name, dtype: to.dtype, shape: info.shape),
                                  source: info, action: .cast(from: format, to: to)))
            case .int8 where Int8Quantization.isQuantizable(dtype: info.dtype, shape: info.shape):
                plans.append(Plan(output: TensorDescriptor(name: info.name, dtype: .i8, shape: info.shape),
                                  source: info, action: .quantizedValues(from: format)))
                let scales = TensorDescriptor(name: Int8Quantization.scaleName(for: info.name), dtype: .f32,
                                              shape: Int8Quantization.scaleShape(for: info.shape))
                plans.append(Plan(output: scales, source: info, action: .quantizedScales(from: format)))
            case .int8:
                plans.append(copy)
            }
        }
        try checkUniqueNames(plans)
        return plans
    }

    /// The INT8 pairs of a source whose metadata says it is quantized: values name → scales.
    private static func quantizedPairs(_ source: any TensorSource) throws -> [UTF8Key: TensorInfo] {
        guard source.metadata?[Int8Quantization.metadataKey] == Int8Quantization.scheme else { return [:] }
        let byName = Dictionary(source.tensors.map { (UTF8Key($0.name), $0) }, uniquingKeysWith: { first, _ in first })
        var pairs: [UTF8Key: TensorInfo] = [:]
        for info in source.tensors where info.dtype == .i8 && info.shape.count >= 2 {
            guard let scales = byName[UTF8Key(Int8Quantization.scaleName(for: info.name))] else { continue }
            try Int8Quantization.checkPair(values: info, scales: scales)
            pairs[UTF8Key(info.name)] = scales
        }
        return pairs
    }

    private static func checkUniqueNames(_ plans: [Plan]) throws {
        var seen = Set<UTF8Key>()
        for plan in plans where !seen.insert(UTF8Key(plan.output.name)).inserted {
            throw WeightsError(.invalidArgument,
                "quantizing '\(plan.source.name)' would write '\(plan.output.name)', a name the source already uses",
                tensor: plan.output.name)
        }
    }

    static func outputMetadata(_ metadata: [String: String]?, target: ConversionTarget) -> [String: String]? {
        switch target {
        case .int8:
            var result = metadata ?? [:]
            result[Int8Quantization.metadataKey] = Int8Quantization.scheme
            return result
        case .float:
            guard var result = metadata, result[Int8Quantization.metadataKey] == Int8Quantization.scheme else {
                return metadata
            }
            result[Int8Quantization.metadataKey] = nil
            return result.isEmpty ? nil : result
        }
    }
}

// MARK: - Converting

extension TensorConverter {
    /// Streams the output bytes of `plan` to `sink` in chunks; returns its record, or `nil`
    /// for a copy.
    func convert(_ plan: Plan, measuringAccuracy: Bool,
                 into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> TensorConversion? {
        let tensor = try source.tensor(named: plan.source.name)
        var record = TensorConversion(name: plan.output.name, sourceDType: plan.source.dtype, dtype: plan.output.dtype,
                                      shape: plan.output.shape, overflowCount: 0)
        var accuracy: AccuracyAccumulator? = measuringAccuracy ? AccuracyAccumulator() : nil
        switch plan.action {
        case .copy:
            try tensor.withUnsafeBytes { try sink($0) }
            return nil
        case .cast(let from, let to):
            record.overflowCount = try tensor.withUnsafeBytes { bytes in
                try Self.cast(bytes, from: from, to: to, accuracy: &accuracy, into: sink)
            }
        case .quantizedValues(let from):
            record.name = plan.source.name
            record.scaleTensor = Int8Quantization.scaleName(for: plan.source.name)
            try RowQuantizer(tensor: tensor, format: from).streamValues(accuracy: &accuracy, into: sink)
        case .quantizedScales(let from):
            try RowQuantizer(tensor: tensor, format: from).streamScales(into: sink)
            return nil  // reported with the values
        case .dequantize(let scalesInfo, let to):
            record.scaleTensor = scalesInfo.name
            let scales = try source.tensor(named: scalesInfo.name)
            record.overflowCount = try Self.dequantize(tensor, scales: scales, to: to,
                                                       accuracy: &accuracy, into: sink)
        }
        record.accuracy = accuracy?.result
        return record
    }

    /// Casts `bytes` from one float format to another, a chunk at a time, overlapping the
    /// conversion of one chunk with the writing of the previous one.
    static func cast(_ bytes: UnsafeRawBufferPointer, from: FloatFormat, to: FloatFormat,
                     accuracy: inout AccuracyAccumulator?,
                     into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let count = bytes.count / from.byteWidth
        let chunk = chunkElements
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * chunk * to.byteWidth, alignment: 64)
        defer { buffers.deallocate() }
        var overflows = 0
        let measurer = AccuracyMeasurer(chunk: accuracy == nil ? 0 : chunk)
        try ChunkPipeline.run(chunkCount: (count + chunk - 1) / chunk, produce: { index, slot in
            let range = index * chunk..<min(count, (index + 1) * chunk)
            let input = UnsafeRawBufferPointer(rebasing: bytes[range.lowerBound * from.byteWidth..<range.upperBound * from.byteWidth])
            let output = UnsafeMutableRawBufferPointer(
                rebasing: buffers[slot * chunk * to.byteWidth..<(slot * chunk + range.count) * to.byteWidth])
            overflows += FloatFormat.convert(input, from: from, to: to, into: output)
            if accuracy != nil {
                measurer.measure(source: input, from: from, converted: UnsafeRawBufferPointer(output), to: to,
                                 into: &accuracy!)
            }
            return UnsafeRawBufferPointer(output)
        }, consume: sink)
        return overflows
    }

    /// Dequantizes an INT8 pair into `to`, row by row, a chunk at a time.
    static func dequantize(_ values: Tensor, scales: Tensor, to: FloatFormat,
                           accuracy: inout AccuracyAccumulator?,
                           into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let rows = values.shape[0]
        let count = values.elementCount
        let rowLength = rows == 0 ? 0 : count / rows
        let chunk = chunkElements
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunk)
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * chunk * to.byteWidth, alignment: 64)
        defer {
            floats.deallocate()
            buffers.deallocate()
        }
        var overflows = 0
        let measurer = AccuracyMeasurer(chunk: accuracy == nil ? 0 : chunk)
        try scales.withElements(of: Float.self) { scales in
            try values.withUnsafeBytes { q in
                try ChunkPipeline.run(chunkCount: (count + chunk - 1) / chunk, produce: { index, slot in
                    let range = index * chunk..<min(count, (index + 1) * chunk)
                    for (offset, element) in range.enumerated() {
                        floats[offset] = Float(Int8(bitPattern: q[element])) * scales[element / rowLength]
                    }
                    let block = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(floats)[0..<range.count * 4])
                    let output = UnsafeMutableRawBufferPointer(
                        rebasing: buffers[slot * chunk * to.byteWidth..<(slot * chunk + range.count) * to.byteWidth])
                    overflows += FloatFormat.convert(block, from: .f32, to: to, into: output)
                    if accuracy != nil {
                        measurer.measure(source: block, from: .f32, converted: UnsafeRawBufferPointer(output), to: to,
                                         into: &accuracy!)
                    }
                    return UnsafeRawBufferPointer(output)
                }, consume: sink)
            }
        }
        return overflows
    }
}

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

/// Streams one tensor's INT8 values or scales, in blocks of whole rows (or, for rows longer
/// than a chunk, row by row in pieces).
struct RowQuantizer {
    let tensor: Tensor
    let format: FloatFormat
    let rows: Int
    let rowLength: Int
    /// Rows per block when a block holds whole rows; 0 when rows are longer than a chunk.
    let rowsPerBlock: Int

    init(tensor: Tensor, format: FloatFormat) {
        self.tensor = tensor
        self.format = format
        self.rows = tensor.shape[0]
        self.rowLength = rows == 0 ? 0 : tensor.elementCount / rows
        self.rowsPerBlock = rowLength == 0 ? max(rows, 1) : TensorConverter.chunkElements / rowLength
    }

    /// Writes the F32 scale of every row.
    func streamScales(into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let scales = try self.scales()
        try scales.withUnsafeBytes { try sink($0) }
    }

    /// Every row's scale, in one pass over the tensor.
    func scales() throws -> [Float] {
        var scales = [Float](repeating: 0, count: rows)
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: min(max(rowLength, 1), TensorConverter.chunkElements))
        defer { scratch.deallocate() }
        for row in 0..<rows {
            var largest: Float = 0
            var start = 0
            while start < rowLength {
                let length = min(rowLength - start, scratch.count)
                guard let piece = Int8Quantization.largestMagnitude(floats(row * rowLength + start, count: length, scratch: scratch)) else {
                    throw WeightsError(.invalidArgument,
                        "tensor '\(tensor.name)' row \(row) holds NaN or infinity, which INT8 cannot scale", tensor: tensor.name)
                }
                largest = max(largest, piece)
                start += length
            }
            scales[row] = Int8Quantization.scale(forLargestMagnitude: largest)
        }
        return scales
    }

    /// Writes the I8 values of every row, measuring their dequantized error when asked.
    func streamValues(accuracy: inout AccuracyAccumulator?,
                      into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let scales = try self.scales()
        let chunk = TensorConverter.chunkElements
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: 2 * chunk)
        let restored = UnsafeMutableBufferPointer<Float>.allocate(capacity: accuracy == nil ? 0 : chunk)
        let output = UnsafeMutableBufferPointer<Int8>.allocate(capacity: 2 * chunk)
        defer {
            scratch.deallocate()
            restored.deallocate()
            output.deallocate()
        }
        // A piece: rows `rows` of a block, or elements `start..<end` of one long row.
        let pieces: [(row: Int, start: Int, end: Int)] = rowsPerBlock > 0
            ? stride(from: 0, to: rows, by: rowsPerBlock).map { ($0, $0 * rowLength, min(rows, $0 + rowsPerBlock) * rowLength) }
            : (0..<rows).flatMap { row in
                stride(from: 0, to: rowLength, by: chunk).map { (row, row * rowLength + $0, row * rowLength + min(rowLength, $0 + chunk)) }
            }
        try ChunkPipeline.run(chunkCount: pieces.count, produce: { index, slot in
            let piece = pieces[index]
            let count = piece.end - piece.start
            let slotScratch = UnsafeMutableBufferPointer(rebasing: scratch[slot * chunk..<(slot + 1) * chunk])
            let values = floats(piece.start, count: count, scratch: slotScratch)
            let levels = UnsafeMutableBufferPointer(rebasing: output[slot * chunk..<slot * chunk + count])
            var offset = 0
            while offset < count {
                let row = (piece.start + offset) / rowLength
                let length = min(count - offset, (row + 1) * rowLength - (piece.start + offset))
                let rowValues = UnsafeBufferPointer(rebasing: values[offset..<offset + length])
                let rowLevels = UnsafeMutableBufferPointer(rebasing: levels[offset..<offset + length])
                Int8Quantization.quantize(rowValues, scale: scales[row], into: rowLevels)
                if accuracy != nil {
                    let back = UnsafeMutableBufferPointer(rebasing: restored[0..<length])
                    for index in 0..<length { back[index] = Float(rowLevels[index]) * scales[row] }
                    accuracy!.add(reference: rowValues, approximation: UnsafeBufferPointer(back))
                }
                offset += length
            }
            return UnsafeRawBufferPointer(levels)
        }, consume: sink)
    }

    /// Elements `start..<start+count` as `Float`: the mapped bytes themselves for aligned F32,
    /// otherwise widened into `scratch` (F64 rounds to nearest).
    private func floats(_ start: Int, count: Int, scratch: UnsafeMutableBufferPointer<Float>) -> UnsafeBufferPointer<Float> {
        tensor.withUnsafeBytes { bytes in
            let width = format.byteWidth
            let slice = UnsafeRawBufferPointer(rebasing: bytes[start * width..<(start + count) * width])
            if format == .f32, let base = slice.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
                return UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: count)
            }
            let target = UnsafeMutableBufferPointer(rebasing: scratch[0..<count])
            FloatFormat.convert(slice, from: format, to: .f32, into: UnsafeMutableRawBufferPointer(target))
            return UnsafeBufferPointer(target)
        }
    }
}

/// The output of a ``TensorConverter`` as a source: each tensor converted when asked for.
///
/// ```swift
/// let converted = try TensorConverter(source: source, target: .float(.bf16)).convertedSource()
/// try ShardedWriter.write(converted, to: "out", maximumShardSize: 2_000_000_000, metadata: converted.metadata)
/// converted.report.overflowCount
/// ```
public final class ConvertedTensorSource: TensorSource, @unchecked Sendable {
    public let converter: TensorConverter
    public let tensors: [TensorInfo]
    private let measuringAccuracy: Bool
    private let records = Mutex<[UTF8Key: TensorConversion]>([:])

    init(_ converter: TensorConverter, measuringAccuracy: Bool) {
        self.converter = converter
        self.measuringAccuracy = measuringAccuracy
        var offset = 0
        var infos: [TensorInfo] = []
        for output in converter.outputs {
            let size = (try? output.byteCount()) ?? 0
            infos.append(TensorInfo(name: output.name, dtype: output.dtype, shape: output.shape,
                                    dataOffsets: offset..<offset + size))
            offset += size
        }
        tensors = infos
    }

    public var path: String { converter.source.path }
    public var metadata: [String: String]? { converter.metadata }

    public func checkUnchanged() throws { try converter.source.checkUnchanged() }

    public func tensor(named name: String) throws -> Tensor {
        let (tensor, record) = try converter.convertedTensor(named: name, measuringAccuracy: measuringAccuracy)
        if let record { records.withLock { $0[UTF8Key(record.name)] = record } }
        return tensor
    }

    /// What happened to every converted tensor read so far, in the source's order. Tensors
    /// without bytes, which writers never ask for, are included.
    public var report: ConversionReport {
        for info in tensors where info.byteCount == 0 {
            _ = try? tensor(named: info.name)
        }
        let records = records.withLock { $0 }
        return ConversionReport(tensors: converter.outputs.compactMap { records[UTF8Key($0.name)] })
    }
}
