import Testing
import WeightsCore
import WeightsEngine
import WeightsTestSupport

/// The decoder on two tiny random models made with transformers and written to GGUF as
/// llama.cpp's converter lays them out (Fixtures/tiny-decoder, `make_fixtures.py`), against
/// transformers' logits at every position of one token sequence. Small enough to run in every
/// build, the sanitizers' included.
///
/// The Gemma 3 model has six layers (five with a sliding window of 4 positions, then one
/// global, with their two RoPE bases) and random norms; the Llama model has grouped-query
/// attention with the rotary halves permuted into adjacent pairs, and an untied output head.
@Suite struct TinyDecoderTests {
    static let directory = repositoryRoot + "/Fixtures/tiny-decoder"

    /// transformers' logits, `[positions, vocabulary]`, and the tokens they follow.
    static func reference(_ name: String) throws -> (tokens: [Int], logits: [[Float]]) {
        let file = try SafetensorsFile(path: directory + "/\(name)-logits.safetensors")
        let tokens = try file.tensor(named: "tokens").elements(of: Int64.self).map(Int.init)
        let logits = try file.tensor(named: "logits")
        let flat = try logits.floats()
        let vocabulary = logits.shape[1]
        return (tokens, (0..<logits.shape[0]).map { Array(flat[$0 * vocabulary..<($0 + 1) * vocabulary]) })
    }

    /// The largest difference from transformers over every position's logits.
    static func largestDifference(_ name: String) throws -> Float {
        let decoder = try TransformerDecoder(gguf: GGUFFile(path: directory + "/\(name).gguf"), threads: 1)
        let (tokens, expected) = try reference(name)
        #expect(decoder.configuration.vocabularySize == expected[0].count)
        var cache = decoder.makeCache(capacity: tokens.count)
        var largest: Float = 0
        for (position, token) in tokens.enumerated() {
            let logits = try decoder.forward(token, cache: &cache)
            for (got, want) in zip(logits, expected[position]) { largest = max(largest, abs(got - want)) }
        }
        return largest
    }

    @Test func gemma3LogitsMatchTransformers() throws {
        // Twelve tokens against a window of four: a decoder that ignored the window, or gave
        // the global layer the local RoPE base, would be far off.
        let configuration = try DecoderConfiguration(gguf: GGUFFile(path: Self.directory + "/gemma3.gguf"))
        #expect(configuration.slidingWindow == 4 && configuration.isGlobal(layer: 5) && !configuration.isGlobal(layer: 4))
        #expect(configuration.ropeBase(layer: 5) == 1_000_000 && configuration.ropeBase(layer: 0) == 10_000)
        let difference = try Self.largestDifference("gemma3")
        #expect(difference < 1e-4, "largest logit difference \(difference)")
    }

    @Test func llamaLogitsMatchTransformers() throws {
        let difference = try Self.largestDifference("llama")
        #expect(difference < 1e-4, "largest logit difference \(difference)")
    }
}
