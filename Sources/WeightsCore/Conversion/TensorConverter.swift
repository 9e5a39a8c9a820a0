import WeightsPlatform

/// Converts every floating tensor of a source to a ``ConversionTarget``, tensor by tensor, in
/// bounded memory.
///
/// - `.float(f)`: floating tensors (F64, F32, F16, BF16, F8_E4M3, F8_E5M2) become `f`, rounded
///   once to nearest, ties to even. INT8 pairs of a quantized source (see ``Int8Quantization``)
///   are dequantized into `f` and their scales dropped, with the quantization metadata entry.
/// - `.int8`: floating tensors of rank 2 or more become I8 values plus F32 scales, and the
///   metadata records the scheme; rank 0 and 1 tensors keep their dtype.
/// - `.int4(groupSize:)`, `.fp8E4M3`: Linear weights are written in compressed-tensors'
///   `pack-quantized` or `float-quantized` layout (Spec/quantized-layouts.md), and the metadata entry
///   `quantization_config` holds the configuration compressed-tensors puts in `config.json`;
///   every other tensor is copied. These hold one weight in memory at a time.
///
/// Checkpoints in the hub's quantized layouts (``HubQuantizedLayout``) are read through
/// ``DequantizedSource``: each quantized layer becomes its weight, then converts as any other.
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
    /// The last weight quantized under a compressed-tensors scheme, whose parts are written
    /// one after another.
    private let lastQuantized = LockedValue<(name: String, value: HubQuantizer.Quantized)?>(nil)

    /// Elements per chunk: large enough that per-chunk costs vanish, small enough to stay in
    /// the last-level cache alongside its output.
    static let chunkElements = 1 << 20

    /// Plans the conversion of `source` to `target`; nothing is read yet.
    ///
    /// - Throws: `invalidArgument` when a quantized tensor's scale name is already taken, or
    ///   when a quantized source's scale tensor has the wrong dtype or shape.
    /// - Complexity: O(*t*) for *t* tensors.
    public init(source stored: any TensorSource, target: ConversionTarget) throws {
        // Layers in the hub's quantized layouts (compressed-tensors, DeepSeek-V3 FP8) are read
        // dequantized, as the weights they stand for.
        let dequantized = try DequantizedSource(stored)
        let source: any TensorSource = dequantized.isQuantized ? dequantized : stored
        self.source = source
        self.target = target
        let planned = try WeightsError.tagging(file: source.path) { try Self.plan(source, target) }
        outputs = planned.map(\.output)
        plans = Dictionary(planned.map { (UTF8Key($0.output.name), $0) }, uniquingKeysWith: { first, _ in first })
        metadata = Self.outputMetadata(source.metadata, target: target,
                                       ignoring: Self.ignoredModules(source, target), dequantized: dequantized.isQuantized)
    }

    /// Writes the converted tensors to a safetensors file at `path`, atomically.
    ///
    /// - Parameters:
    ///   - path: The file to write; replaced atomically if it exists.
    ///   - measuringAccuracy: also compare every converted value with its source
    ///     (one more pass over each chunk, while it is in cache).
    /// - Returns: What happened to each converted tensor: overflows always, accuracy when
    ///   measured. Copied tensors are not listed.
    /// - Throws: `invalidArgument` naming the tensor and row when INT8 meets NaN or infinity;
    ///   the reader's and writer's errors.
    /// - Complexity: O(*n*) in the total size, one read of each source byte (two for INT8).
    public func write(to path: String, measuringAccuracy: Bool = false) throws -> ConversionReport {
        let converted = convertedSource(measuringAccuracy: measuringAccuracy)
        try converted.write(to: path, metadata: metadata)
        return converted.report
    }

    /// The converted tensor named `name` (one of ``outputs``), in memory.
    ///
    /// - Throws: `tensorNotFound`; the conversion's errors.
    /// - Complexity: O(*n*) time and memory for the tensor.
    public func tensor(named name: String) throws -> Tensor {
        try convertedTensor(named: name, measuringAccuracy: false).tensor
    }

    /// Converts the tensor named `name` chunk by chunk into `sink`; returns what happened to
    /// it (`nil` for a tensor copied as it was, or for the scales of a quantized tensor).
    func streamConverted(named name: String, measuringAccuracy: Bool,
                         into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> TensorConversion? {
        guard let plan = plans[UTF8Key(name)] else {
            throw WeightsError(.tensorNotFound, "no tensor named '\(name)' in the converted output",
                               file: source.path, tensor: name)
        }
        return try WeightsError.tagging(file: source.path) {
            unsafe try convert(plan, measuringAccuracy: measuringAccuracy, into: sink)  // Sound: hands `sink` buffers valid for each call.
        }
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
        // Sound: each chunk is copied at `filled`, after the check that it fits in the
        // `byteCount` bytes allocated; a source whose tensor is not the size its header entry
        // says (any `TensorSource` may be) is refused, not copied past the end. The tensor's
        // bytes are all of `storage`, which it keeps alive.
        let storage = unsafe try ByteStorage.allocate(count: byteCount) { buffer in
            record = try WeightsError.tagging(file: source.path) {
                unsafe try convert(plan, measuringAccuracy: measuringAccuracy) { bytes in
                    guard bytes.count <= byteCount - filled else {
                        throw Self.sizeMismatch(name, byteCount, given: filled + bytes.count)
                    }
                    unsafe UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<filled + bytes.count]).copyMemory(from: bytes)
                    filled += bytes.count
                }
            }
            guard filled == byteCount else { throw Self.sizeMismatch(name, byteCount, given: filled) }
        }
        let info = TensorInfo(name: name, dtype: plan.output.dtype, shape: plan.output.shape, dataOffsets: 0..<byteCount)
        return unsafe (Tensor(info: info, storage: storage, bytes: storage.bytes), record)
    }

    private static func sizeMismatch(_ name: String, _ expected: Int, given: Int) -> WeightsError {
        WeightsError(.byteCountMismatch, "converted tensor '\(name)' takes \(expected) bytes; the source gave \(given)",
                     tensor: name)
    }

    /// The converted tensors as a ``TensorSource``, for writers that take one (a file or
    /// ``ShardedWriter``). Writers stream each tensor through the conversion in chunks
    /// (``TensorSource/streamBytes(ofTensorNamed:into:)``); ``TensorSource/tensor(named:)``
    /// converts one whole, in memory. The source collects what happened in its
    /// ``ConvertedTensorSource/report``.
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
        /// Part `index` of ``HubQuantizer/outputs(for:scheme:)`` for the source weight.
        case hubPart(HubQuantizer.Scheme, index: Int)
    }

    static func plan(_ source: any TensorSource, _ target: ConversionTarget) throws -> [Plan] {
        let pairs = try Int8Quantization.pairs(in: source)
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
            if let scheme = target.hubScheme {
                if HubQuantizer.exclusion(of: info, scheme: scheme) == nil {
                    for (index, output) in HubQuantizer.outputs(for: info, scheme: scheme).enumerated() {
                        plans.append(Plan(output: output, source: info, action: .hubPart(scheme, index: index)))
                    }
                } else {
                    plans.append(copy)
                }
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
            case .int8, .int4, .fp8E4M3:
                plans.append(copy)
            }
        }
        try checkUniqueNames(plans)
        return plans
    }

    /// The INT8 pairs of a source whose metadata says it is quantized: values name → scales.
    private static func checkUniqueNames(_ plans: [Plan]) throws {
        var seen = Set<UTF8Key>()
        for plan in plans where !seen.insert(UTF8Key(plan.output.name)).inserted {
            throw WeightsError(.invalidData,
                "quantizing '\(plan.source.name)' would write '\(plan.output.name)', a name the source already uses",
                tensor: plan.output.name)
        }
    }

    /// The Linear modules a compressed-tensors target leaves unquantized, for `ignore`:
    /// `lm_head` (compressed-tensors' recipes always name it) and every Linear weight whose
    /// rows do not split into whole groups.
    static func ignoredModules(_ source: any TensorSource, _ target: ConversionTarget) -> [String] {
        guard let scheme = target.hubScheme else { return [] }
        var ignored: Set<String> = ["lm_head"]
        for info in source.tensors {
            if let exclusion = HubQuantizer.exclusion(of: info, scheme: scheme), exclusion == .ignored || exclusion == .partialGroup {
                ignored.insert(String(info.name.dropLast(".weight".count)))
            }
        }
        return ignored.sorted()
    }

    static func outputMetadata(_ metadata: [String: String]?, target: ConversionTarget,
                               ignoring ignored: [String] = [], dequantized: Bool = false) -> [String: String]? {
        switch target {
        case .int8:
            var result = metadata ?? [:]
            result[Int8Quantization.metadataKey] = Int8Quantization.scheme
            result[HubQuantizer.configMetadataKey] = nil
            return result
        case .int4, .fp8E4M3:
            var result = metadata ?? [:]
            result[Int8Quantization.metadataKey] = nil
            result[HubQuantizer.configMetadataKey] = HubQuantizer.configJSON(target.hubScheme!, ignore: ignored)
            return result
        case .float:
            guard var result = metadata else { return nil }
            if result[Int8Quantization.metadataKey] == Int8Quantization.scheme { result[Int8Quantization.metadataKey] = nil }
            // A dequantized compressed-tensors checkpoint no longer has the layout its config names.
            if dequantized { result[HubQuantizer.configMetadataKey] = nil }
            return result.isEmpty ? nil : result
        }
    }
}

// MARK: - Converting

extension TensorConverter {
    /// Streams the output bytes of `plan` to `sink` in chunks; returns its record, or `nil`
    /// for a copy.
    // Sound: every buffer handed to `sink` is a tensor's bytes (kept alive by the tensor in
    // scope), an array's, or a pipeline slot, each valid for the call; `cast`, `dequantize`
    // and `RowQuantizer` size their reads from the tensor they are given.
    func convert(_ plan: Plan, measuringAccuracy: Bool,
                 into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> TensorConversion? {
        let tensor = try source.tensor(named: plan.source.name)
        var record = TensorConversion(name: plan.output.name, sourceDType: plan.source.dtype, dtype: plan.output.dtype,
                                      shape: plan.output.shape, overflowCount: 0)
        var accuracy: AccuracyAccumulator? = measuringAccuracy ? AccuracyAccumulator() : nil
        switch plan.action {
        case .copy:
            unsafe try tensor.withUnsafeBytes { unsafe try sink($0) }
            return nil
        case .cast(let from, let to):
            record.overflowCount = unsafe try tensor.withUnsafeBytes { bytes in
                unsafe try Self.cast(bytes, from: from, to: to, accuracy: &accuracy, into: sink)
            }
        case .quantizedValues(let from):
            record.name = plan.source.name
            record.scaleTensor = Int8Quantization.scaleName(for: plan.source.name)
            unsafe try RowQuantizer(tensor: tensor, format: from).streamValues(accuracy: &accuracy, into: sink)
        case .quantizedScales(let from):
            unsafe try RowQuantizer(tensor: tensor, format: from).streamScales(into: sink)
            return nil  // reported with the values
        case .dequantize(let scalesInfo, let to):
            record.scaleTensor = scalesInfo.name
            let scales = try source.tensor(named: scalesInfo.name)
            record.overflowCount = unsafe try Self.dequantize(tensor, scales: scales, to: to,
                                                       accuracy: &accuracy, into: sink)
        case .hubPart(let scheme, let index):
            let quantized = try quantizedWeight(tensor, scheme: scheme)
            let part = quantized.parts[index]
            unsafe try part.withUnsafeBytes { unsafe try sink($0) }
            guard index == 0 else { return nil }  // reported with the values
            record.name = plan.source.name
            record.shape = plan.source.shape
            record.scheme = scheme.description
            record.scaleTensor = quantized.parts[1].name
            if accuracy != nil {
                let reference = try tensor.floats()
                unsafe reference.withUnsafeBufferPointer { reference in
                    unsafe quantized.restored.withUnsafeBufferPointer { unsafe accuracy!.add(reference: reference, approximation: $0) }
                }
            }
        }
        record.accuracy = accuracy?.result
        return record
    }

    /// The quantization of the weight `tensor`, computed once for all its parts.
    private func quantizedWeight(_ tensor: Tensor, scheme: HubQuantizer.Scheme) throws -> HubQuantizer.Quantized {
        if let last = lastQuantized.withLock({ $0 }), last.name == tensor.name { return last.value }
        let value = try HubQuantizer.quantize(tensor, scheme: scheme)
        lastQuantized.withLock { $0 = (tensor.name, value) }
        return value
    }

    // Sound: chunk `index` covers elements `range` of the `count` whole elements in `bytes`;
    // its output is `range.count <= chunk` elements in slot `slot` of `buffers` (two chunks of
    // `to`), which the pipeline hands to `sink` before that slot is overwritten; `buffers`
    // outlives the pipeline.
    /// Casts `bytes` from one float format to another, a chunk at a time, overlapping the
    /// conversion of one chunk with the writing of the previous one.
    static func cast(_ bytes: UnsafeRawBufferPointer, from: FloatFormat, to: FloatFormat,
                     accuracy: inout AccuracyAccumulator?,
                     into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let count = bytes.count / from.byteWidth
        let chunk = chunkElements
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * chunk * to.byteWidth, alignment: 64)
        defer { unsafe buffers.deallocate() }
        var overflows = 0
        let measurer = AccuracyMeasurer(chunk: accuracy == nil ? 0 : chunk)
        unsafe try ChunkPipeline.run(chunkCount: (count + chunk - 1) / chunk, produce: { index, slot in
            let range = index * chunk..<min(count, (index + 1) * chunk)
            let input = unsafe UnsafeRawBufferPointer(rebasing: bytes[range.lowerBound * from.byteWidth..<range.upperBound * from.byteWidth])
            let output = unsafe UnsafeMutableRawBufferPointer(
                rebasing: buffers[slot * chunk * to.byteWidth..<(slot * chunk + range.count) * to.byteWidth])
            unsafe overflows += FloatFormat.convert(input, from: from, to: to, into: output)
            if accuracy != nil {
                unsafe measurer.measure(source: input, from: from, converted: UnsafeRawBufferPointer(output), to: to,
                                 into: &accuracy!)
            }
            return UnsafeRawBufferPointer(output)
        }, consume: unsafe sink)
        return overflows
    }

    // Sound: the pair is checked on the tensors themselves (the plan checked the source's
    // header entries, which a source's tensors need not match): `values` is I8, so `q` holds
    // `count` bytes, and `scales` F32 of `rows` elements; element `e < count` has row
    // `e / rowLength < rows`. Chunks and slots are as in `cast`, `floats` holding one chunk.
    /// Dequantizes an INT8 pair into `to`, row by row, a chunk at a time.
    static func dequantize(_ values: Tensor, scales: Tensor, to: FloatFormat,
                           accuracy: inout AccuracyAccumulator?,
                           into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        try Int8Quantization.checkPair(values: values.info, scales: scales.info)
        let rows = values.shape[0]
        let count = values.elementCount
        let rowLength = rows == 0 ? 0 : count / rows
        let chunk = chunkElements
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunk)
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * chunk * to.byteWidth, alignment: 64)
        defer {
            unsafe floats.deallocate()
            unsafe buffers.deallocate()
        }
        var overflows = 0
        let measurer = AccuracyMeasurer(chunk: accuracy == nil ? 0 : chunk)
        unsafe try scales.withElements(of: Float.self) { scales in
            unsafe try values.withUnsafeBytes { q in
                unsafe try ChunkPipeline.run(chunkCount: (count + chunk - 1) / chunk, produce: { index, slot in
                    let range = index * chunk..<min(count, (index + 1) * chunk)
                    for (offset, element) in range.enumerated() {
                        unsafe floats[offset] = unsafe Float(Int8(bitPattern: q[element])) * scales[element / rowLength]
                    }
                    let block = unsafe UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(floats)[0..<range.count * 4])
                    let output = unsafe UnsafeMutableRawBufferPointer(
                        rebasing: buffers[slot * chunk * to.byteWidth..<(slot * chunk + range.count) * to.byteWidth])
                    unsafe overflows += FloatFormat.convert(block, from: .f32, to: to, into: output)
                    if accuracy != nil {
                        unsafe measurer.measure(source: block, from: .f32, converted: UnsafeRawBufferPointer(output), to: to,
                                         into: &accuracy!)
                    }
                    return UnsafeRawBufferPointer(output)
                }, consume: unsafe sink)
            }
        }
        return overflows
    }
}
