import Testing
import Weights
import WeightsEngine

/// The model alone, fed the reference token ids, against sentence-transformers' embeddings.
@Suite struct EncoderAccuracyTests {
    let reference = ReferenceEmbeddings.shared

    @Test func f32EmbeddingsMatchSentenceTransformers() throws {
        let model = try EmbeddingModel(modelDirectory: try modelDirectory())
        #expect(model.encoder.precision == .f32)
        let vectors = try model.embed(tokenIDs: reference.inputIDs)
        try #require(vectors.count == reference.embeddings.count)
        let similarities = zip(vectors, reference.embeddings).map { cosine($0, $1) }
        print("F32 cosine: min \(similarities.min()!), mean \(similarities.reduce(0, +) / Double(similarities.count))")
        for (index, (vector, expected)) in zip(vectors, reference.embeddings).enumerated() {
            let similarity = cosine(vector, expected)
            #expect(similarity >= 0.999999, "sentence \(index) '\(reference.sentences[index].prefix(40))': cosine \(similarity)")
        }
    }

    /// INT8 arithmetic (Spec/int8-compute.md) on the F32 file, quantized at load: every
    /// reference sentence within cosine 0.993, on average 0.997.
    @Test func int8ComputeStaysCloseToSentenceTransformers() throws {
        let model = try EmbeddingModel(modelDirectory: try modelDirectory(), compute: .int8)
        #expect(model.encoder.compute == .int8 && model.encoder.precision == .int8)
        let vectors = try model.embed(tokenIDs: reference.inputIDs)
        try #require(vectors.count == reference.embeddings.count)
        let similarities = zip(vectors, reference.embeddings).map { cosine($0, $1) }
        let mean = similarities.reduce(0, +) / Double(similarities.count)
        print("INT8 compute cosine: min \(similarities.min()!), mean \(mean)")
        for (index, similarity) in similarities.enumerated() {
            #expect(similarity >= 0.993, "sentence \(index) '\(reference.sentences[index].prefix(40))': cosine \(similarity)")
        }
        #expect(mean >= 0.997)
        // Several threads share out the same products: the same numbers.
        let threaded = try EmbeddingModel(modelDirectory: try modelDirectory(), compute: .int8, threads: 2)
        #expect(try threaded.embed(tokenIDs: reference.inputIDs) == vectors)
    }

    @Test func int8ComputeRefusesFloatWeights() throws {
        #expect(throws: WeightsError.self) {
            _ = try EmbeddingModel(modelDirectory: try modelDirectory(), precision: .f16, compute: .int8)
        }
    }
}
