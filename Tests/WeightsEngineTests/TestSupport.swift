import Foundation
import Testing
import Weights
import WeightsEngine
@_exported import WeightsTestSupport

/// The repository's root.
let repositoryRoot: String = packageRoot.path

/// The default model's directory; a test failure naming the set-up step when it is missing.
func modelDirectory() throws -> String { try installedModelDirectory() }

/// Sentences, token ids and embeddings from sentence-transformers (see Fixtures/minilm).
struct ReferenceEmbeddings: Decodable {
    let model: String
    let producedBy: String
    let sentences: [String]
    let inputIDs: [[Int32]]
    let embeddings: [[Float]]

    enum CodingKeys: String, CodingKey {
        case model, sentences, embeddings
        case producedBy = "produced_by"
        case inputIDs = "input_ids"
    }

    static let shared: ReferenceEmbeddings = {
        let path = repositoryRoot + "/Fixtures/minilm/minilm_embeddings.json"
        let data = FileManager.default.contents(atPath: path)!
        return try! JSONDecoder().decode(ReferenceEmbeddings.self, from: data)
    }()
}

/// cos(a, b), accumulated in Double.
func cosine(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        na += Double(x) * Double(x)
        nb += Double(y) * Double(y)
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}
