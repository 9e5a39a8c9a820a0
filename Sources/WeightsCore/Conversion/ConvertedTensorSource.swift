import WeightsPlatform

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
    private let records = LockedValue<[UTF8Key: TensorConversion]>([:])

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
        // Kept under the output's name: a compressed-tensors INT4 record names the weight
        // (`P.weight`), whose first output is `P.weight_packed`.
        if let record { records.withLock { $0[UTF8Key(name)] = record } }
        return tensor
    }

    /// Converts the tensor named `name` chunk by chunk into `body`, in bounded memory.
    public func streamBytes(ofTensorNamed name: String, into body: (UnsafeRawBufferPointer) throws -> Void) throws {
        // Sound: each chunk is lent to `body` for its call only.
        let record = unsafe try converter.streamConverted(named: name, measuringAccuracy: measuringAccuracy, into: body)
        if let record { records.withLock { $0[UTF8Key(name)] = record } }
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
