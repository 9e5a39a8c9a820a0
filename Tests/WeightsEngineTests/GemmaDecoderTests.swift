import Foundation
import Testing
import WeightsCore
import WeightsEngine

/// Gemma 3 270M from its Q4_K_M GGUF against the references in Fixtures/gemma (skipped, with a
/// pointer to scripts/setup, when the model is not installed).
@Suite(.serialized) struct GemmaDecoderTests {
    static let installed = (try? installedGemmaPath()) != nil
    /// The forward passes need an optimized build: skipped under the sanitizers.
    static let runsModel = installed && !skipsSlowTests
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

    @Test(.enabled(if: runsModel, "the Gemma GGUF is not installed (run scripts/setup), or slow tests are skipped"))
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
            // llama.cpp's own logits are up to about 2 away from the reference; ours only by the
            // order of float additions.
            #expect(gap < 1e-3, "\(prompt.id)")
            #expect(abs(norm - reference.l2Norm) / reference.l2Norm < 1e-5, "\(prompt.id)")
            #expect(abs(mean - reference.mean) < 1e-4, "\(prompt.id)")
            worstGap = max(worstGap, gap)
        }
        print("worst top-64 gap to the float32 reference: \(worstGap)")
    }

    @Test(.enabled(if: runsModel, "the Gemma GGUF is not installed (run scripts/setup), or slow tests are skipped"))
    func greedyContinuationsFollowTheFloat32Reference() throws {
        let model = try LanguageModel(path: installedGemmaPath())
        var agreeing = 0, llamaAgreeing = 0
        let length = 8
        for prompt in GemmaReference.shared.prompts {
            let result = try model.generate(tokens: prompt.llamaIDs,
                                            options: .init(maximumTokens: length, temperature: 0, ignoreEndOfSequence: true))
            let reference = Array(prompt.hf.greedyIDs.prefix(length))
            let agree = zip(result.tokens, reference).prefix { $0 == $1 }.count
            let llamaAgree = zip(prompt.llama.greedyIDs.prefix(length), reference).prefix { $0 == $1 }.count
            print("\(prompt.id): \(agree) of \(length) greedy tokens as the float32 reference (llama.cpp: \(llamaAgree))")
            agreeing += agree
            llamaAgreeing += llamaAgree
        }
        #expect(agreeing >= llamaAgreeing)
        #expect(agreeing == 12 * length, "every prompt's first \(length) tokens, unless a near-tie flips")
    }
}
