import Dispatch
import Foundation
import Testing
import Weights
import WeightsEngine

/// The whole pipeline, text to vector, against sentence-transformers.
@Suite struct SentenceEmbedderTests {
    let reference = ReferenceEmbeddings.shared

    @Test func textToVectorMatchesSentenceTransformers() throws {
        let embedder = try SentenceEmbedder(modelDirectory: try modelDirectory())
        #expect(embedder.dimension == 384)
        for (index, sentence) in reference.sentences.enumerated() {
            #expect(try embedder.tokenizer.encode(sentence, maximumLength: embedder.model.maximumLength).ids
                    == reference.inputIDs[index], "token ids of sentence \(index)")
        }
        let vectors = try embedder.embed(reference.sentences)
        for (index, (vector, expected)) in zip(vectors, reference.embeddings).enumerated() {
            #expect(cosine(vector, expected) >= 0.999999, "sentence \(index)")
            #expect(abs(Operations.dot(vector, vector) - 1) < 1e-5, "sentence \(index) is not unit length")
        }
    }

    /// A sentence's vector does not depend on the batch around it, its position, the batch
    /// size, or the number of threads: padding never leaks in.
    @Test func vectorsDoNotDependOnTheBatch() throws {
        let directory = try modelDirectory()
        let serial = try SentenceEmbedder(modelDirectory: directory, threads: 1)
        let parallel = try SentenceEmbedder(modelDirectory: directory, threads: 2)
        let sentences = Array(reference.sentences.prefix(12)) + [reference.sentences[20]]
        let alone = try sentences.map { try serial.embed($0) }
        let batched = try parallel.embed(sentences.reversed(), batchSize: 5).reversed()
        for (index, (one, many)) in zip(alone, batched).enumerated() {
            let difference = zip(one, many).map { abs($0 - $1) }.max()!
            #expect(difference < 1e-6, "sentence \(index) differs by \(difference) in a batch")
        }
    }

    /// Calls from several threads at once give what calls one after another give.
    @Test func concurrentCallsAgreeWithSerialOnes() throws {
        let embedder = try SentenceEmbedder(modelDirectory: try modelDirectory(), threads: 2)
        let batches = [Array(reference.sentences[0..<6]), [reference.sentences[20]],
                       Array(reference.sentences[10..<22]), [reference.sentences[13]]]
        let serial = try batches.map { try embedder.embed($0) }
        let results = Locked<[Int: [[Float]]]>([:])
        DispatchQueue.concurrentPerform(iterations: batches.count * 2) { iteration in
            let index = iteration % batches.count
            let vectors = (try? embedder.embed(batches[index])) ?? []
            results.withLock { $0[iteration] = vectors }
        }
        for iteration in 0..<batches.count * 2 {
            let got = results.withLock { $0[iteration] } ?? []
            let expected = serial[iteration % batches.count]
            try #require(got.count == expected.count)
            // Bit for bit: a result depends on the input and the thread count only.
            #expect(got == expected)
        }
    }

    @Test func ranksByMeaning() throws {
        let embedder = try SentenceEmbedder(modelDirectory: try modelDirectory())
        let candidates = ["A man is riding a horse.", "A man is eating food.", "The girl is carrying a baby."]
        let ranked = try embedder.rank("A man is eating pasta.", among: candidates)
        #expect(ranked.map(\.index) == [1, 0, 2])
        let vectors = try embedder.embed(["A man is eating pasta."] + candidates)
        #expect(ranked[0].similarity == SentenceEmbedder.cosine(vectors[0], vectors[2]))
    }

    @Test func emptyInputGivesNoVectors() throws {
        let embedder = try SentenceEmbedder(modelDirectory: try modelDirectory())
        #expect(try embedder.embed([String]()).isEmpty)
        // The empty string is [CLS] [SEP]: a vector like any other.
        #expect(try embedder.embed("").count == 384)
    }

    @Test func missingDirectoryIsAnIOErrorNamingIt() throws {
        let error = try #require(throws: WeightsError.self) {
            try SentenceEmbedder(modelDirectory: "/nonexistent/model")
        }
        #expect(error.code == .io)
        #expect(error.file == "/nonexistent/model")
    }
}

extension Operations {
    static func dot(_ a: [Float], _ b: [Float]) -> Float {
        unsafe a.withUnsafeBufferPointer { a in unsafe b.withUnsafeBufferPointer { b in unsafe dot(a, b) } }
    }
}

/// A value behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
