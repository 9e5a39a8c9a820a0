import Foundation
import Testing
import WeightsCore
import WeightsEngine

/// Gemma 3 270M from its Q4_K_M GGUF against the references in Fixtures/gemma (skipped, with a
/// pointer to scripts/setup, when the model is not installed).
@Suite(.serialized) struct GemmaDecoderTests {
    static let installed = (try? installedGemmaPath()) != nil
    static let file: GGUFFile? = try? GGUFFile(path: installedGemmaPath())

    @Test(.enabled(if: installed, "the Gemma GGUF is not installed: run scripts/setup"))
    func tokenizerGivesLlamaCppIDs() throws {
        let file = try #require(Self.file)
        let start = ContinuousClock.now
        let tokenizer = try SentencePieceTokenizer(gguf: file)
        print("Gemma tokenizer loaded in \(ContinuousClock.now - start)")
        for prompt in GemmaReference.shared.prompts {
            #expect(tokenizer.encode(prompt.text) == prompt.llamaIDs, "\(prompt.id)")
            #expect(tokenizer.encode(prompt.text, parseSpecial: false) == prompt.llamaIDsSpecialFalse, "\(prompt.id)")
            #expect(tokenizer.decode(Array(prompt.llamaIDs.dropFirst()), special: true) == prompt.text, "\(prompt.id)")
        }
    }

    @Test(.enabled(if: installed, "the Gemma GGUF is not installed: run scripts/setup"))
    func lastLogitsFollowTheFloat32Reference() throws {
        let decoder = try TransformerDecoder(gguf: #require(Self.file))
        var worstGap = 0.0
        for prompt in GemmaReference.shared.prompts {
            var cache = decoder.makeCache(capacity: 256)
            var logits: [Float] = []
            for token in prompt.llamaIDs { logits = try decoder.forward(token, cache: &cache) }
            let reference = prompt.hf.lastLogits
            let argmax = logits.indices.max { logits[$0] < logits[$1] }!
            #expect(argmax == reference.argmax, "\(prompt.id)")
            // The reference's 64 largest logits, one by one.
            var gap = 0.0
            for (id, value) in zip(reference.topIDs, reference.topValues) { gap = max(gap, abs(Double(logits[id]) - value)) }
            let mean = logits.reduce(0.0) { $0 + Double($1) } / Double(logits.count)
            let norm = logits.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            print("\(prompt.id): top-64 max |Δ| \(gap), mean \(mean) vs \(reference.mean), L2 \(norm) vs \(reference.l2Norm)")
            #expect(gap < 0.05, "\(prompt.id)")
            #expect(abs(norm - reference.l2Norm) / reference.l2Norm < 1e-3, "\(prompt.id)")
            worstGap = max(worstGap, gap)
        }
        print("worst top-64 gap to the float32 reference: \(worstGap)")
    }
}
