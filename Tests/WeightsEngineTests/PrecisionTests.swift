import Foundation
import Testing
import Weights
import WeightsEngine

/// F16 and INT8 weights against sentence-transformers' F32 embeddings, and files already
/// converted against conversion at load time.
@Suite struct PrecisionTests {
    let reference = ReferenceEmbeddings.shared

    @Test func f16WeightsStayWithinOneInAHundredThousand() throws {
        let model = try EmbeddingModel(modelDirectory: try modelDirectory(), precision: .f16)
        #expect(model.encoder.precision == .f16)
        let similarities = zip(try model.embed(tokenIDs: reference.inputIDs), reference.embeddings).map { cosine($0, $1) }
        print("F16 cosine: min \(similarities.min()!), mean \(similarities.reduce(0, +) / Double(similarities.count))")
        for (index, similarity) in similarities.enumerated() {
            #expect(similarity >= 0.99999, "sentence \(index): cosine \(similarity)")
        }
    }

    @Test func int8WeightsStayAbove0_998() throws {
        let model = try EmbeddingModel(modelDirectory: try modelDirectory(), precision: .int8)
        #expect(model.encoder.precision == .int8)
        let similarities = zip(try model.embed(tokenIDs: reference.inputIDs), reference.embeddings).map { cosine($0, $1) }
        let mean = similarities.reduce(0, +) / Double(similarities.count)
        print("INT8 cosine: min \(similarities.min()!), mean \(mean)")
        #expect(similarities.min()! >= 0.998)
        #expect(mean >= 0.999)
    }

    /// A model whose file is already F16 or INT8 runs as stored, and gives exactly what
    /// converting at load time gives.
    @Test(arguments: [WeightPrecision.f16, .int8])
    func convertedFileEqualsConversionAtLoad(_ precision: WeightPrecision) throws {
        let source = try modelDirectory()
        let directory = try TemporaryModel(copying: source, precision: precision)
        let fromFile = try EmbeddingModel(modelDirectory: directory.path, threads: 1)
        let atLoad = try EmbeddingModel(modelDirectory: source, precision: precision, threads: 1)
        #expect(fromFile.encoder.precision == precision)
        // Asking for F32 does not undo a file's quantization: it runs as stored.
        let asked = try EmbeddingModel(modelDirectory: directory.path, precision: .f32, threads: 1)
        #expect(asked.encoder.precision == (precision == .int8 ? .int8 : .f32))
        let ids = Array(reference.inputIDs.prefix(4))
        #expect(try fromFile.embed(tokenIDs: ids) == atLoad.embed(tokenIDs: ids))
    }
}

/// A copy of a model directory with its weights converted as `weights convert --dtype` does:
/// F16 rounds every float tensor; INT8 quantizes the float tensors of rank 2 or more.
/// The directory is removed when the value goes away.
struct TemporaryModel {
    let directory: TemporaryDirectory
    var path: String { directory.path }

    init(copying source: String, precision: WeightPrecision) throws {
        directory = try TemporaryDirectory()
        for name in ["config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json", "vocab.txt"] {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: path + "/" + name)
        }
        try FileManager.default.copyItem(atPath: source + "/1_Pooling", toPath: path + "/1_Pooling")
        let file = try SafetensorsFile(path: source + "/model.safetensors")
        var tensors: [Tensor] = []
        for info in file.tensors {
            let tensor = file.tensor(info)
            switch precision {
            case _ where FloatFormat(info.dtype) == nil, .f32:
                tensors.append(tensor)
            case .f16:
                tensors.append(try Tensor(name: info.name, shape: info.shape,
                                          elements: try tensor.floats().map { Float16($0) }))
            case .int8:
                if Int8Quantization.isQuantizable(dtype: info.dtype, shape: info.shape) {
                    let (values, scales) = try Int8Quantization.quantize(tensor)
                    tensors += [values, scales]
                } else {
                    tensors.append(tensor)
                }
            case .int4, .f8E4M3:
                throw WeightsError(.invalidArgument, "TemporaryModel writes F16 and INT8; QuantizedModel writes INT4 and FP8")
            }
        }
        let metadata = precision == .int8 ? [Int8Quantization.metadataKey: Int8Quantization.scheme] : nil
        try SafetensorsWriter.write(tensors, metadata: metadata, to: path + "/model.safetensors")
    }
}
