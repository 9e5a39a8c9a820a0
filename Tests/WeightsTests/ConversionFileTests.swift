import Testing
import Weights

import WeightsPlatform

@Suite("Conversion of files")
struct ConversionFileTests {
    /// Writes `tensors` to a temporary safetensors file and returns its path.
    static func file(_ tensors: [Tensor], metadata: [String: String]? = nil) throws -> String {
        let path = ConversionFixtures.temporaryPath("source.safetensors")
        try SafetensorsWriter.write(tensors, metadata: metadata, to: path)
        return path
    }

    static func errorOf(_ body: () throws -> Void) -> WeightsError? {
        do { try body() } catch { return error as? WeightsError }
        return nil
    }

    @Test("Tensors larger than a chunk convert identically to one whole-buffer conversion", arguments: [FloatFormat.f16, .bf16, .f64])
    func multiChunk(to: FloatFormat) throws {
        var random = SeededGenerator(seed: 11)
        let count = 3 * (1 << 20) + 5  // three full chunks and a ragged end
        let values = (0..<count).map { _ in Float(random.nextNormal()) * 1000 }
        let source = try Self.file([Tensor(name: "big", shape: [count], elements: values)])
        let output = ConversionFixtures.temporaryPath("big.safetensors")
        defer { unsafe unlink(source); unsafe unlink(output) }
        let report = try TensorConverter(source: SafetensorsFile(path: source), target: .float(to))
            .write(to: output, measuringAccuracy: true)
        var expected = [UInt8](repeating: 0, count: count * to.byteWidth)
        let overflows = unsafe values.withUnsafeBytes { input in
            unsafe expected.withUnsafeMutableBytes { unsafe FloatFormat.convert(input, from: .f32, to: to, into: $0) }
        }
        let written = try SafetensorsFile(path: output).tensor(named: "big")
        #expect(written.dtype == to.dtype)
        #expect(written.copyBytes() == expected)
        let record = try #require(report.tensors.first)
        #expect(record.overflowCount == overflows)
        let widened = try written.floats()
        #expect(record.accuracy == ConversionAccuracy.measure(reference: values, approximation: widened))
    }

    @Test("INT8 rows longer than a chunk are scaled over the whole row")
    func longRows() throws {
        var random = SeededGenerator(seed: 12)
        let rowLength = (1 << 20) + 3
        var values = (0..<2 * rowLength).map { _ in Float(random.nextNormal()) }
        values[rowLength + rowLength - 1] = 50  // the second row's maximum sits in its last chunk
        let tensor = try Tensor(name: "w", shape: [2, rowLength], elements: values)
        let source = try Self.file([tensor])
        let output = ConversionFixtures.temporaryPath("int8.safetensors")
        defer { unsafe unlink(source); unsafe unlink(output) }
        _ = try TensorConverter(source: SafetensorsFile(path: source), target: .int8).write(to: output)
        let (q, scales) = try Int8Quantization.quantize(tensor)
        let file = try SafetensorsFile(path: output)
        #expect(try file.tensor(named: "w").copyBytes() == q.copyBytes())
        #expect(try file.tensor(named: "w_scale").elements(of: Float.self) == scales.elements(of: Float.self))
        #expect(try scales.elements(of: Float.self)[1] == 50 / 127)
    }

    @Test("F32 → F16 → F32 restores every F16-exact value; INT8 → F32 drops scales and the scheme entry")
    func closingTheLoop() throws {
        let weight = try Tensor(name: "layer.weight", shape: [3, 4], elements: (0..<12).map { Float($0) * 0.25 - 1 })
        let bias = try Tensor(name: "layer.bias", shape: [4], elements: [0.5, 1, -1, 2] as [Float])
        let source = try Self.file([weight, bias], metadata: ["format": "pt"])
        let quantized = ConversionFixtures.temporaryPath("q.safetensors")
        let restored = ConversionFixtures.temporaryPath("r.safetensors")
        defer { unsafe unlink(source); unsafe unlink(quantized); unsafe unlink(restored) }
        let converter = try TensorConverter(source: SafetensorsFile(path: source), target: .int8)
        #expect(converter.outputs.map(\.name) == ["layer.bias", "layer.weight", "layer.weight_scale"])
        #expect(converter.outputs.map(\.dtype) == [.f32, .i8, .f32])
        _ = try converter.write(to: quantized)
        let back = try TensorConverter(source: SafetensorsFile(path: quantized), target: .float(.f32))
        #expect(back.outputs.map(\.name) == ["layer.bias", "layer.weight"])
        #expect(back.metadata == ["format": "pt"])
        _ = try back.write(to: restored)
        let file = try SafetensorsFile(path: restored)
        #expect(file.tensors.map(\.dtype) == [.f32, .f32])
        let original = try weight.floats(), roundTrip = try file.tensor(named: "layer.weight").floats()
        for row in 0..<3 {
            let scale = original[row * 4..<row * 4 + 4].map(\.magnitude).max()! / 127
            for column in 0..<4 {
                #expect((roundTrip[row * 4 + column] - original[row * 4 + column]).magnitude <= scale / 2)
            }
        }
        #expect(try file.tensor(named: "layer.bias").floats() == bias.floats())
    }

    @Test("Re-quantizing a quantized file keeps its pairs as they are")
    func requantize() throws {
        let source = try Self.file([Tensor(name: "w", shape: [2, 2], elements: [1, 2, 3, 4] as [Float])])
        let once = ConversionFixtures.temporaryPath("once.safetensors")
        let twice = ConversionFixtures.temporaryPath("twice.safetensors")
        defer { unsafe unlink(source); unsafe unlink(once); unsafe unlink(twice) }
        _ = try TensorConverter(source: SafetensorsFile(path: source), target: .int8).write(to: once)
        let report = try TensorConverter(source: SafetensorsFile(path: once), target: .int8).write(to: twice)
        #expect(report.tensors.isEmpty)
        #expect(try ConversionFixtures.contents(of: once) == ConversionFixtures.contents(of: twice))
    }

    @Test("INT8 refuses a scale name the source already uses")
    func scaleNameTaken() throws {
        let source = try Self.file([
            Tensor(name: "w", shape: [2, 2], elements: [1, 2, 3, 4] as [Float]),
            Tensor(name: "w_scale", shape: [1, 1], elements: [7] as [Float]),
        ])
        defer { unsafe unlink(source) }
        let error = Self.errorOf { _ = try TensorConverter(source: SafetensorsFile(path: source), target: .int8) }
        #expect(error?.code == .invalidData && error?.fault == .input)
        #expect(error?.file == source)
        #expect(error?.reason.contains("'w_scale'") == true)
    }

    @Test("A quantized file with a malformed scale tensor is an error naming it")
    func malformedPair() throws {
        let source = try Self.file([
            Tensor(name: "w", shape: [2, 2], elements: [1, 2, 3, 4] as [Int8]),
            Tensor(name: "w_scale", shape: [2], elements: [1, 1] as [Float]),
        ], metadata: [Int8Quantization.metadataKey: Int8Quantization.scheme])
        defer { unsafe unlink(source) }
        let error = Self.errorOf { _ = try TensorConverter(source: SafetensorsFile(path: source), target: .float(.f32)) }
        #expect(error?.code == .invalidData)
        #expect(error?.tensor == "w_scale")
        #expect(error?.file == source)
    }

    @Test("INT8 on a row holding NaN fails naming file, tensor and row, and leaves no output")
    func nanRowLeavesNothing() throws {
        let source = try Self.file([Tensor(name: "w", shape: [2, 2], elements: [1, 2, .nan, 4] as [Float])])
        let output = ConversionFixtures.temporaryPath("never.safetensors")
        defer { unsafe unlink(source) }
        let error = Self.errorOf { _ = try TensorConverter(source: SafetensorsFile(path: source), target: .int8).write(to: output) }
        #expect(error?.code == .invalidData)
        #expect(error?.file == source && error?.tensor == "w")
        #expect(error?.reason.contains("row 1") == true)
        unsafe #expect(access(output, F_OK) != 0)
    }

    @Test("tensor(named:) converts one tensor in memory; unknown names are tensorNotFound")
    func inMemory() throws {
        let converter = try TensorConverter(source: SafetensorsFile(path: ConversionFixtures.path("source.safetensors")),
                                            target: .float(.f16))
        let expected = try SafetensorsFile(path: ConversionFixtures.path("expected_f16.safetensors"))
        for info in expected.tensors {
            #expect(try converter.tensor(named: info.name).copyBytes() == expected.tensor(named: info.name).copyBytes())
        }
        #expect(Self.errorOf { _ = try converter.tensor(named: "missing") }?.code == .tensorNotFound)
    }

    @Test("Sharded output through convertedSource holds the same tensors as the single file")
    func sharded() throws {
        let directory = ConversionFixtures.temporaryPath("shards")
        defer {
            for name in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", ShardedCheckpoint.indexFileName] {
                unsafe unlink(directory + "/" + name)
            }
            unsafe rmdir(directory)
        }
        let converter = try TensorConverter(source: SafetensorsFile(path: ConversionFixtures.path("source.safetensors")),
                                            target: .float(.bf16))
        let converted = converter.convertedSource(measuringAccuracy: true)
        try ShardedWriter.write(converted, to: directory, maximumShardSize: 12_000, metadata: converter.metadata)
        #expect(converted.report.tensors.count == 8)
        #expect(converted.report.overflowCount == 3)
        #expect(converted.report.tensors.allSatisfy { $0.accuracy != nil })
        let sharded = try Checkpoint.open(directory)
        let expected = try SafetensorsFile(path: ConversionFixtures.path("expected_bf16.safetensors"))
        #expect(sharded.tensors.count == expected.tensors.count)
        for info in expected.tensors where info.name != "edges" {  // edges holds the NaN payloads
            #expect(try sharded.tensor(named: info.name).copyBytes() == expected.tensor(named: info.name).copyBytes())
        }
    }

    @Test("The JSON report names every converted tensor; infinite figures are null")
    func jsonReport() throws {
        let source = try Self.file([Tensor(name: "x", shape: [3], elements: [1, 70000, 0.5] as [Float]),
                                    Tensor(name: "same", shape: [2], elements: [1, 2] as [Float16])])
        let output = ConversionFixtures.temporaryPath("r.safetensors")
        defer { unsafe unlink(source); unsafe unlink(output) }
        let report = try TensorConverter(source: SafetensorsFile(path: source), target: .float(.f16))
            .write(to: output, measuringAccuracy: true)
        #expect(report.json() == """
            {"tensors":[{"name":"x","source_dtype":"F32","dtype":"F16","shape":[3],"overflow_count":1,\
            "count":3,"max_abs_error":null,"rms_error":null,"sqnr_db":null,"cosine":null}]}
            """)
    }
}

@Suite("Conversion of all-MiniLM-L6-v2")
struct ConversionModelTests {
    static func modelFile() throws -> String {
        let environment = { (name: String) in unsafe getenv(name).map { unsafe String(cString: $0) } }
        let directory = environment("WEIGHTS_MODEL_DIR")
            ?? (environment("WEIGHTS_MODELS") ?? (environment("HOME") ?? "") + "/.cache/weights/models") + "/all-MiniLM-L6-v2"
        let path = directory + "/model.safetensors"
        guard unsafe access(path, R_OK) == 0 else {
            Issue.record("all-MiniLM-L6-v2 is missing at \(path): run scripts/setup (or set WEIGHTS_MODEL_DIR)")
            throw WeightsError(.io, "model missing", file: path)
        }
        return path
    }

    @Test("--dtype int8: every quantized tensor has cosine ≥ 0.999 and the file is at most 27% of F32")
    func int8Targets() throws {
        let model = try Self.modelFile()
        let output = ConversionFixtures.temporaryPath("minilm-int8.safetensors")
        defer { unsafe unlink(output) }
        let source = try SafetensorsFile(path: model)
        let report = try TensorConverter(source: source, target: .int8).write(to: output, measuringAccuracy: true)
        let quantizable = source.tensors.filter { Int8Quantization.isQuantizable(dtype: $0.dtype, shape: $0.shape) }
        #expect(report.tensors.count == quantizable.count)
        #expect(report.tensors.count == 40)
        for tensor in report.tensors {
            let cosine = try #require(tensor.accuracy).cosineSimilarity
            #expect(cosine >= 0.999, "\(tensor.name): cosine \(cosine)")
        }
        // The worst tensor, as in the numpy rendering of the scheme (about 0.9994).
        let worst = try #require(report.tensors.min { $0.accuracy!.cosineSimilarity < $1.accuracy!.cosineSimilarity })
        #expect(worst.name == "embeddings.token_type_embeddings.weight")
        let ratio = Double(try SafetensorsFile(path: output).fileSize) / Double(source.fileSize)
        #expect(ratio <= 0.27, "INT8 file is \(ratio) of F32")
        #expect(ratio > 0.25)
    }

    @Test("--dtype f16 and bf16 of the model round-trip through F32 exactly")
    func halfRoundTrip() throws {
        let model = try Self.modelFile()
        let half = ConversionFixtures.temporaryPath("minilm-f16.safetensors")
        let back = ConversionFixtures.temporaryPath("minilm-f16-f32.safetensors")
        defer { unsafe unlink(half); unsafe unlink(back) }
        let report = try TensorConverter(source: SafetensorsFile(path: model), target: .float(.f16)).write(to: half)
        #expect(report.overflowCount == 0)
        _ = try TensorConverter(source: SafetensorsFile(path: half), target: .float(.f32)).write(to: back)
        let again = ConversionFixtures.temporaryPath("minilm-f16-again.safetensors")
        defer { unsafe unlink(again) }
        _ = try TensorConverter(source: SafetensorsFile(path: back), target: .float(.f16)).write(to: again)
        #expect(try ConversionFixtures.contents(of: half) == ConversionFixtures.contents(of: again))
    }
}
