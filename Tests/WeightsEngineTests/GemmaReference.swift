import Foundation

/// Fixtures/gemma/reference.json: for 12 prompts, llama.cpp's token ids and continuation, and a
/// float32 reference (transformers on gguf-py's dequantized weights) with its last-position
/// logits (the 64 largest, their mean and L2 norm) and greedy continuation.
struct GemmaReference: Decodable {
    struct Prompt: Decodable {
        var id: String
        var text: String
        var llamaIDs: [Int]
        var llamaIDsSpecialFalse: [Int]
        var hf: Run
        var llama: Run
        var agreement: Agreement

        enum CodingKeys: String, CodingKey {
            case id, text, hf, llama, agreement
            case llamaIDs = "llama_ids"
            case llamaIDsSpecialFalse = "llama_ids_special_false"
        }
    }

    /// How llama.cpp's run compares with the float32 reference.
    struct Agreement: Decodable {
        /// Cosine of llama.cpp's and the reference's last-position logit vectors.
        var lastLogitsCosine: Double

        enum CodingKeys: String, CodingKey {
            case lastLogitsCosine = "last_logits_cosine"
        }
    }

    struct Run: Decodable {
        var greedyIDs: [Int]
        var lastLogits: Logits

        enum CodingKeys: String, CodingKey {
            case greedyIDs = "greedy_ids"
            case lastLogits = "last_logits"
        }
    }

    struct Logits: Decodable {
        var argmax: Int
        var topIDs: [Int]
        var topValues: [Double]
        var mean: Double
        var l2Norm: Double

        enum CodingKeys: String, CodingKey {
            case argmax, mean
            case topIDs = "top_ids"
            case topValues = "top_values"
            case l2Norm = "l2_norm"
        }
    }

    var prompts: [Prompt]

    static let shared: GemmaReference = {
        let data = FileManager.default.contents(atPath: repositoryRoot + "/Fixtures/gemma/reference.json")!
        return try! JSONDecoder().decode(GemmaReference.self, from: data)
    }()
}
