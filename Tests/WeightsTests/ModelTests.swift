import Foundation
import Testing
import Weights

/// The real all-MiniLM-L6-v2 checkpoint, installed by scripts/setup from PyPI.
@Suite struct ModelTests {
    static let hubSHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

    @Test func digestIsTheHubsDigest() throws {
        #expect(try SHA256Digest.file(at: modelDirectory() + "/model.safetensors") == Self.hubSHA256)
    }

    @Test func tensorsHaveTheirDTypesAndShapes() throws {
        let file = try SafetensorsFile(path: modelDirectory() + "/model.safetensors")
        #expect(file.tensors.count == 104)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.info(named: "embeddings.word_embeddings.weight")?.shape == [30522, 384])
        #expect(file.info(named: "embeddings.position_ids")?.dtype == .i64)
        #expect(file.tensors.filter { $0.dtype == .f32 }.count == 103)
        for layer in 0..<6 {
            let prefix = "encoder.layer.\(layer)."
            #expect(file.info(named: prefix + "attention.self.query.weight")?.shape == [384, 384])
            #expect(file.info(named: prefix + "intermediate.dense.weight")?.shape == [1536, 384])
            #expect(file.info(named: prefix + "output.dense.weight")?.shape == [384, 1536])
            #expect(file.info(named: prefix + "output.LayerNorm.bias")?.shape == [384])
        }
        let positions = try file.tensor(named: "embeddings.position_ids").elements(of: Int64.self)
        #expect(positions == (0..<512).map(Int64.init))
        let parameters = file.tensors.reduce(0) { $0 + $1.elementCount }
        #expect(parameters == 22_713_728)
    }

    @Test func rewritingTheModelGivesTheSameBytes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try SafetensorsFile(path: modelDirectory() + "/model.safetensors")
        let writer = try SafetensorsWriter(path: directory + "/copy.safetensors", tensors: source.tensors.map(\.descriptor),
                                           metadata: source.metadata)
        while let next = writer.nextTensor { try writer.write(source.tensor(next)) }
        try writer.finish()
        #expect(try SHA256Digest.file(at: directory + "/copy.safetensors") == Self.hubSHA256)
    }
}
