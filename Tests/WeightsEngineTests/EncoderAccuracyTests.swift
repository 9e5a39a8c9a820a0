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
}
