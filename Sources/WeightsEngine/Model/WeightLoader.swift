import WeightsCore

/// Finds an encoder's tensors by their Hugging Face names and checks their shapes.
struct WeightLoader {
    let source: any TensorSource
    let infos: [String: TensorInfo]
    /// INT8 values tensors to their scales, when the file's metadata marks it quantized.
    let quantizedPairs: [UTF8Key: TensorInfo]
    /// The layers stored in one of the hub's quantized layouts (compressed-tensors INT4, INT8,
    /// FP8; DeepSeek-V3's FP8), by prefix.
    let hubLayers: [String: HubQuantizedLayout.Layer]
    /// The source's tensors as the model sees them: a quantized layer's stored tensors listed
    /// as its one `P.weight` (``DequantizedSource``'s listing; nothing is read through it).
    let listing: any TensorSource
    /// `"bert."` for checkpoints saved from `BertForMaskedLM` and the like, else empty.
    let prefix: String
    let precision: WeightPrecision?
    let compute: ComputePrecision

    /// - Throws: `tensorNotFound` when the source has no `embeddings.word_embeddings.weight`,
    ///   with or without the `bert.` prefix.
    init(source: any TensorSource, precision: WeightPrecision?, compute: ComputePrecision = .f32) throws {
        self.source = source
        self.precision = precision
        self.compute = compute
        let dequantized = try DequantizedSource(source)
        hubLayers = dequantized.layers
        listing = dequantized.isQuantized ? dequantized : source
        var infos = [String: TensorInfo](minimumCapacity: listing.tensors.count)
        for info in listing.tensors { infos[info.name] = info }
        self.infos = infos
        quantizedPairs = try WeightsError.tagging(file: source.path) { try Int8Quantization.pairs(in: source) }
        let probe = "embeddings.word_embeddings.weight"
        if infos[probe] != nil {
            prefix = ""
        } else if infos["bert." + probe] != nil {
            prefix = "bert."
        } else {
            throw WeightsError(.tensorNotFound,
                "no tensor named '\(probe)' or 'bert.\(probe)': not a BERT checkpoint with Hugging Face names",
                file: source.path, tensor: probe)
        }
    }

    /// The `[rows, columns]` matrix `name` (an embedding table), as INT8 when the file stores
    /// it so. INT4 and FP8, which `weights convert` gives the linear layers only, leave it as
    /// stored, and so does `keepingStored` (mapped, when F32 or F16) whatever the precision.
    func matrix(_ name: String, rows: Int, columns: Int, keepingStored: Bool = false) throws -> WeightMatrix {
        let stored = keepingStored || precision == .int4 || precision == .f8E4M3
        return try matrix(name, rows: rows, columns: columns, precision: stored ? nil : precision)
    }

    /// The quantized layer of the hub's layouts whose weight is `name`, if any.
    private func hubLayer(weight name: String) -> HubQuantizedLayout.Layer? {
        guard name.hasSuffix(".weight") else { return nil }
        return hubLayers[prefix + String(name.dropLast(".weight".count))]
    }

    /// Whether the table `name` may be kept as stored and quantized a row at a time as it is
    /// read, giving what loading it as INT8 gives: an INT8 load of a float tensor, F32 or F16
    /// (which widen exactly), that is not already quantized in the file.
    func quantizesRowsOnRead(_ name: String) -> Bool {
        guard precision == .int8, let info = infos[prefix + name], info.dtype == .f32 || info.dtype == .f16,
              quantizedPairs[UTF8Key(info.name)] == nil else { return false }
        return hubLayer(weight: name) == nil
    }

    private func matrix(_ name: String, rows: Int, columns: Int, precision: WeightPrecision?) throws -> WeightMatrix {
        if let layer = hubLayer(weight: name) {
            return try tagged(name) {
                guard layer.weight.shape == [rows, columns] else {
                    throw WeightsError(.invalidArgument,
                        "layer '\(layer.prefix)' has shape \(layer.weight.shape), expected \([rows, columns])",
                        tensor: layer.parts[0])
                }
                if !WeightMatrix.runsAsStored(layer.layout) {
                    // The kernels read symmetric 4- and 8-bit integers only: a layer with zero
                    // points (or another width) is dequantized once here, as `weights convert
                    // --dtype f32|f16|bf16` dequantizes it (in its scales' dtype), and runs as
                    // a plain float matrix.
                    return try WeightMatrix(listing.tensor(named: layer.weight.name), precision: nil)
                }
                return try WeightMatrix(layer: layer, reading: source.tensor(named:))
            }
        }
        let tensor = try self.tensor(name)
        return try tagged(name) {
            guard tensor.shape == [rows, columns] else {
                throw WeightsError(.invalidArgument,
                    "tensor '\(tensor.name)' has shape \(tensor.shape), expected \([rows, columns])", tensor: tensor.name)
            }
            if let scales = quantizedPairs[UTF8Key(tensor.name)] {
                return try WeightMatrix(quantized: tensor, scales: try source.tensor(named: scales.name))
            }
            return try WeightMatrix(tensor, precision: precision)
        }
    }

    /// The vector `name` of `count` values, widened to `Float`.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let tensor = try self.tensor(name)
        return try tagged(name) {
            guard tensor.shape == [count] else {
                throw WeightsError(.invalidArgument,
                    "tensor '\(tensor.name)' has shape \(tensor.shape), expected [\(count)]", tensor: tensor.name)
            }
            let values = try tensor.floats()
            // `--dtype f16` rounds every float tensor, vectors included; INT8 leaves vectors alone.
            guard precision == .f16, tensor.dtype != .f16 else { return values }
            var halves = [Float16](repeating: 0, count: values.count)
            // Sound: both buffers have values.count elements and live for the closures.
            unsafe values.withUnsafeBufferPointer { source in
                unsafe halves.withUnsafeMutableBufferPointer { _ = unsafe FloatFormat.convert(source, into: $0) }
            }
            return halves.map(Float.init)
        }
    }

    /// The layer `name` with `name.weight` `[output, input]` and `name.bias` `[output]`;
    /// `integer`: computing in INT8 (with ``compute`` `.int8`, under which every linear
    /// layer's weight is INT8; the embedding tables keep ``precision``).
    func linear(_ name: String, input: Int, output: Int, integer: Bool = false) throws -> Linear {
        let integer = integer && compute == .int8
        let weight = try matrix(name + ".weight", rows: output, columns: input,
                                precision: compute == .int8 ? .int8 : precision)
        let bias = try vector(name + ".bias", count: output)
        return try tagged(name + ".weight") { try Linear(weight: weight, bias: bias, integer: integer) }
    }

    /// The LayerNorm `name` with `name.weight` and `name.bias` of `count` values.
    func layerNorm(_ name: String, count: Int, epsilon: Float) throws -> LayerNorm {
        LayerNorm(gamma: try vector(name + ".weight", count: count),
                  beta: try vector(name + ".bias", count: count), epsilon: epsilon)
    }

    private func tensor(_ name: String) throws -> Tensor {
        do {
            return try source.tensor(named: prefix + name)
        } catch let error as WeightsError {
            throw error.in(file: source.path)
        }
    }

    private func tagged<R>(_ name: String, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as WeightsError {
            throw error.in(file: source.path).in(tensor: prefix + name)
        }
    }
}

/// LayerNorm's parameters.
struct LayerNorm: Sendable {
    let gamma: [Float]
    let beta: [Float]
    let epsilon: Float

    /// Normalizes each `gamma.count`-wide row of `rows` rows in place.
    func apply(_ matrix: UnsafeMutablePointer<Float>, rows: Int) {
        // Sound: the caller lends `rows` × gamma.count floats; gamma and beta have the same
        // count (the loader read both with it), which `Operations.layerNorm` checks too.
        let width = gamma.count
        unsafe gamma.withUnsafeBufferPointer { gamma in
            unsafe beta.withUnsafeBufferPointer { beta in
                for row in 0..<rows {
                    unsafe Operations.layerNorm(UnsafeMutableBufferPointer(start: matrix + row * width, count: width),
                                         gamma: gamma, beta: beta, epsilon: epsilon)
                }
            }
        }
    }
}
