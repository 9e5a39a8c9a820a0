import Foundation
import Testing
import Weights

/// `weights generate` and `weights tokenize` on the Gemma GGUF that scripts/setup installs.
@Suite struct GenerateCommandTests {
    static let installed = (try? installedGemmaPath()) != nil
    /// The forward passes need an optimized build: skipped under the sanitizers.
    static let runsModel = installed && !skipsSlowTests

    /// The reference prompts' texts, llama.cpp's ids and the float32 reference's greedy tokens.
    static func prompts() throws -> [(text: String, ids: [Int], greedy: [Int])] {
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("Fixtures/gemma/reference.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let prompts = try #require(root["prompts"] as? [[String: Any]])
        return try prompts.map { prompt in
            let hf = try #require(prompt["hf"] as? [String: Any])
            return (try #require(prompt["text"] as? String), try #require(prompt["llama_ids"] as? [Int]),
                    try #require(hf["greedy_ids"] as? [Int]))
        }
    }

    @Test(.enabled(if: installed, "the Gemma GGUF is not installed: run scripts/setup"))
    func tokenizePrintsLlamaCppIDs() throws {
        for prompt in try Self.prompts().prefix(4) {
            let run = try runWeights(["tokenize", "--json", prompt.text])
            #expect(run.status == 0, "\(run.standardError)")
            let object = try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any]
            #expect(object?["ids"] as? [Int] == prompt.ids)
            #expect((object?["pieces"] as? [String])?.first == "<bos>")
        }
    }

    @Test(.enabled(if: runsModel, "the Gemma GGUF is not installed (run scripts/setup), or slow tests are skipped"))
    func greedyJSONFollowsTheReference() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prompt = try #require(try Self.prompts().first)
        let run = try runWeights(["generate", "--temperature", "0", "--max-tokens", "4", "--ignore-eos", "--json",
                                  "--top-logits", "3", "--logits-out", directory + "/logits.f32", prompt.text])
        #expect(run.status == 0, "\(run.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        #expect(object["prompt_tokens"] as? [Int] == prompt.ids)
        #expect(object["tokens"] as? [Int] == Array(prompt.greedy.prefix(4)))
        let timings = try #require(object["timings"] as? [String: Double])
        #expect(timings["generated_tokens_per_second"].map { $0 > 0 } == true)
        #expect(timings["first_token_seconds"].map { $0 > 0 } == true)
        let top = try #require(object["top_logits"] as? [[Double]])
        #expect(top.count == 3 && Int(top[0][0]) == prompt.greedy[0] && top[0][1] >= top[1][1])
        let logits = try Data(contentsOf: URL(fileURLWithPath: directory + "/logits.f32"))
        #expect(logits.count == 262_144 * 4)
        let first = unsafe logits.withUnsafeBytes { unsafe $0.loadUnaligned(fromByteOffset: prompt.greedy[0] * 4, as: Float.self) }
        #expect(abs(Double(first) - top[0][1]) < 1e-3)
    }

    @Test("Streams text from standard input; bad options fail before loading",
          .enabled(if: runsModel, "the Gemma GGUF is not installed (run scripts/setup), or slow tests are skipped"))
    func streamingAndBadOptions() throws {
        let run = try runWeights(["generate", "--temperature", "0", "--max-tokens", "3"], input: "The capital of France is")
        #expect(run.status == 0, "\(run.standardError)")
        #expect(!run.standardOutput.isEmpty)
        for arguments in [["--top-p", "0"], ["--temperature", "-1"], ["--top-logits", "3"], ["--max-tokens", "-2"]] {
            let bad = try runWeights(["generate", "x"] + arguments)
            #expect(bad.status != 0 && !bad.standardError.isEmpty, "\(arguments)")
        }
        let missing = try runWeights(["generate", "--model", "/nonexistent/m.gguf", "x"])
        #expect(missing.status == 1 && missing.standardError.contains("/nonexistent/m.gguf"))
    }
}
