import Foundation
import Testing

/// `weights embed` and `weights similar`, run as a person runs them.
@Suite struct EmbedCommandTests {
    struct Reference: Decodable {
        let sentences: [String]
        let embeddings: [[Float]]
    }

    static let reference = try! JSONDecoder().decode(
        Reference.self,
        from: FileManager.default.contents(atPath: packageRoot.appendingPathComponent("Fixtures/minilm/minilm_embeddings.json").path)!)

    func requireModel() throws {
        try #require(FileManager.default.fileExists(atPath: modelPath()),
                     "all-MiniLM-L6-v2 is not installed at \(modelPath()): run scripts/setup")
    }

    func cosine(_ a: [Float], _ b: [Float]) -> Double {
        let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let norms = (a.reduce(0.0) { $0 + Double($1) * Double($1) } * b.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
        return dot / norms
    }

    @Test func jsonHasOneVectorPerArgumentInOrder() throws {
        try requireModel()
        let indices = [3, 0, 13]
        let result = try runWeights(["embed", "--json"] + indices.map { Self.reference.sentences[$0] })
        #expect(result.status == 0, "\(result.standardError)")
        let vectors = try JSONDecoder().decode([[Float]].self, from: Data(result.standardOutput.utf8))
        try #require(vectors.count == 3)
        for (vector, index) in zip(vectors, indices) {
            #expect(vector.count == 384)
            #expect(cosine(vector, Self.reference.embeddings[index]) >= 0.999999)
        }
    }

    @Test func standardInputGivesOneLineOfNumbersPerLine() throws {
        try requireModel()
        let sentences = Array(Self.reference.sentences.prefix(3))
        let result = try runWeights(["embed"], input: sentences.joined(separator: "\n") + "\n")
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n")
        try #require(lines.count == 3)
        for (line, expected) in zip(lines, Self.reference.embeddings) {
            let vector = line.split(separator: " ").compactMap { Float(String($0)) }
            #expect(vector.count == 384)
            #expect(cosine(vector, expected) >= 0.999999)
        }
    }

    @Test func emptyInputGivesAnEmptyArray() throws {
        try requireModel()
        let result = try runWeights(["embed", "--json"], input: "")
        #expect(result.status == 0)
        #expect(result.standardOutput == "[]\n")
    }

    @Test(arguments: ["f16", "int8"])
    func dtypeConvertsAtLoad(_ dtype: String) throws {
        try requireModel()
        let result = try runWeights(["embed", "--json", "--dtype", dtype, Self.reference.sentences[1]])
        #expect(result.status == 0, "\(result.standardError)")
        let vector = try JSONDecoder().decode([[Float]].self, from: Data(result.standardOutput.utf8))[0]
        #expect(cosine(vector, Self.reference.embeddings[1]) >= (dtype == "f16" ? 0.99999 : 0.998))
    }

    /// `--compute int8`: integer products, on the F32 file's layers quantized at load (tables kept
    /// F32) or with `--dtype int8` (tables INT8 too); refused with float weights.
    @Test func computeInt8RunsIntegerProducts() throws {
        try requireModel()
        let sentences = [Self.reference.sentences[1], Self.reference.sentences[4]]
        let plain = try runWeights(["embed", "--json", "--compute", "int8"] + sentences)
        #expect(plain.status == 0, "\(plain.standardError)")
        let vectors = try JSONDecoder().decode([[Float]].self, from: Data(plain.standardOutput.utf8))
        try #require(vectors.count == 2)
        #expect(cosine(vectors[0], Self.reference.embeddings[1]) >= 0.993)
        #expect(cosine(vectors[1], Self.reference.embeddings[4]) >= 0.993)
        // Weight-only INT8 stays available, and differs (its activations stay float).
        let weightOnly = try runWeights(["embed", "--json", "--dtype", "int8"] + sentences)
        #expect(weightOnly.status == 0 && weightOnly.standardOutput != plain.standardOutput)
        let explicit = try runWeights(["embed", "--json", "--dtype", "int8", "--compute", "int8"] + sentences)
        #expect(explicit.status == 0, "\(explicit.standardError)")
        let explicitVectors = try JSONDecoder().decode([[Float]].self, from: Data(explicit.standardOutput.utf8))
        try #require(explicitVectors.count == 2)
        #expect(explicit.standardOutput != plain.standardOutput)
        #expect(cosine(explicitVectors[0], Self.reference.embeddings[1]) >= 0.993)
        #expect(cosine(explicitVectors[1], Self.reference.embeddings[4]) >= 0.993)
        let refused = try runWeights(["embed", "--dtype", "f16", "--compute", "int8", "x"])
        #expect(refused.status != 0 && refused.standardError.contains("--compute int8"))
        let unknown = try runWeights(["embed", "--compute", "int4", "x"])
        #expect(unknown.status != 0 && unknown.standardError.contains("int4"))
    }

    /// `--dtype` at load gives exactly what running the file `weights convert --dtype` wrote gives
    /// (INT4 and FP8: compressed-tensors checkpoints, run as stored).
    @Test(arguments: ["f16", "int8", "int4", "f8_e4m3"])
    func dtypeAtLoadEqualsAConvertedFile(_ dtype: String) throws {
        try requireModel()
        let source = (modelPath() as NSString).deletingLastPathComponent
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let converted = try runWeights(["convert", "--dtype", dtype, modelPath(), directory + "/model.safetensors"])
        try #require(converted.status == 0, "\(converted.standardError)")
        for name in ["config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json", "1_Pooling"] {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: directory + "/" + name)
        }
        let sentences = Array(Self.reference.sentences.prefix(3))
        let fromFile = try runWeights(["embed", "--json", "--model", directory] + sentences)
        let atLoad = try runWeights(["embed", "--json", "--dtype", dtype] + sentences)
        #expect(fromFile.status == 0 && atLoad.status == 0, "\(fromFile.standardError)\(atLoad.standardError)")
        #expect(fromFile.standardOutput == atLoad.standardOutput)
    }

    @Test func similarRanksByMeaning() throws {
        try requireModel()
        let result = try runWeights(["similar", "--top", "2", "A man is eating pasta.",
                                     "A man is riding a horse.", "A man is eating food.", "The girl is carrying a baby."])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        try #require(lines.count == 2)
        #expect(lines[0].hasSuffix("  A man is eating food."))
        #expect(lines[1].hasSuffix("  A man is riding a horse."))
        let scores = lines.map { Double($0.split(separator: " ")[0])! }
        #expect(scores[0] > scores[1] && scores[0] <= 1)
    }

    @Test func errorsNameTheModelDirectory() throws {
        let missing = try runWeights(["embed", "--model", "/nonexistent/model", "hello"])
        #expect(missing.status == 1)
        #expect(missing.standardError.hasPrefix("error: /nonexistent/model: "))
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let noConfig = try runWeights(["embed", "--model", directory, "hello"])
        #expect(noConfig.status == 1)
        #expect(noConfig.standardError.hasPrefix("error: \(directory)/config.json: "))
        let badDtype = try runWeights(["embed", "--dtype", "f8", "hello"])
        #expect(badDtype.status != 0)
        #expect(badDtype.standardError.contains("unknown dtype 'f8'"))
        let badTop = try runWeights(["similar", "--top", "0", "a", "b"])
        #expect(badTop.status != 0)
    }
}
