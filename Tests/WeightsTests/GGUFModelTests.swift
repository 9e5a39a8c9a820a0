import Foundation
import Testing
import Weights
import WeightsTestSupport

/// The real file: Gemma 3 270M in Q4_K_M (scripts/setup installs it).
@Suite struct GGUFModelTests {
    static let installed = (try? installedGemmaPath()) != nil

    @Test(.enabled(if: installed, "the Gemma GGUF is not installed: run scripts/setup"))
    func gemmaOpensWithItsMetadataAndTensors() throws {
        let path = try installedGemmaPath()
        let clock = ContinuousClock()
        var best = Duration.seconds(1000)
        var file: GGUFFile?
        for _ in 0..<5 {
            let start = clock.now
            file = try GGUFFile(path: path)
            best = min(best, clock.now - start)
        }
        #if DEBUG
        let configuration = "debug"
        #else
        let configuration = "release"
        #endif
        print("GGUF: opened \(path) in \(best) (best of 5, \(configuration) build)")
        let gemma = try #require(file)
        #expect(gemma.version == 3)
        #expect(gemma.alignment == 32)
        #expect(gemma.dataOffset == 6_525_120)
        #expect(gemma.metadata.count == 33)
        #expect(gemma.metadata["general.architecture"]?.string == "gemma3")
        #expect(gemma.metadata["gemma3.embedding_length"]?.int == 640)
        #expect(gemma.metadata["gemma3.block_count"]?.int == 18)
        #expect(gemma.metadata["gemma3.context_length"]?.int == 32768)
        #expect(gemma.metadata["gemma3.attention.layer_norm_rms_epsilon"]?.double == Double(Float(1e-6)))
        let tokens = try #require(gemma.metadata["tokenizer.ggml.tokens"]?.array)
        #expect(tokens.elementType == .string && tokens.count == 262_144)
        #expect(try tokens.strings().count == 262_144)
        #expect(try gemma.metadata["tokenizer.ggml.scores"]?.array?.floats().count == 262_144)
        #expect(gemma.metadata["tokenizer.ggml.bos_token_id"]?.int == 2)
        #expect(gemma.tensors.count == 236)
        #expect(gemma.parameterCount == 268_098_176)
        var counts: [GGMLType: Int] = [:]
        for info in gemma.tensors { counts[info.type, default: 0] += 1 }
        #expect(counts == [.f32: 109, .q8_0: 10, .q5_0: 81, .q4_K: 27, .q6_K: 9])
        let embedding = try #require(gemma.tensorInfo(named: "token_embd.weight"))
        #expect(embedding.type == .q8_0)
        #expect(embedding.dimensions == [640, 262_144])
        #expect(embedding.shape == [262_144, 640])
    }

    @Test(.enabled(if: installed, "the Gemma GGUF is not installed: run scripts/setup"),
          arguments: [ConversionKernel.best, .portable])
    func gemmaSamplesDequantizeAsGGUFPyDoes(kernel: ConversionKernel) throws {
        let gemma = try GGUFFile(path: try installedGemmaPath())
        let samples = try GGUFFixtureTests.fixture("gemma-samples.gguf")
        #expect(samples.tensors.count == 5)
        var types: Set<GGMLType> = []
        for sample in samples.tensors {
            let tensor = try gemma.tensor(named: sample.name)
            let blocks = sample.elementCount / tensor.type.blockSize
            let values = try tensor.dequantized(blocks: 0..<blocks, kernel: kernel)
            let expected = GGUFFixtureTests.bits(samples.tensor(sample))
            #expect(GGUFFixtureTests.firstDifference(values, expected) == nil, "\(sample.name)")
            types.insert(tensor.type)
        }
        #expect(types == [.f32, .q8_0, .q5_0, .q4_K, .q6_K])
    }

    /// Throughput of the kernels on the real tensors (printed, not asserted: debug builds and
    /// shared machines vary).
    @Test(.enabled(if: installed, "the Gemma GGUF is not installed: run scripts/setup"))
    func gemmaDequantizationThroughput() throws {
        let gemma = try GGUFFile(path: try installedGemmaPath())
        let clock = ContinuousClock()
        for type in [GGMLType.q4_K, .q6_K, .q8_0, .q5_0] {
            let infos = gemma.tensors.filter { $0.type == type && $0.elementCount <= 4 << 20 }.prefix(4)
            let elements = infos.reduce(0) { $0 + $1.elementCount }
            let start = clock.now
            var checksum: Float = 0
            for info in infos { checksum += try gemma.tensor(info).dequantized().reduce(0, +) }
            let seconds = Double((clock.now - start).components.attoseconds) * 1e-18 + Double((clock.now - start).components.seconds)
            print("GGUF: \(type) \(elements) elements in \(String(format: "%.1f", seconds * 1000)) ms (\(String(format: "%.0f", Double(elements) / seconds / 1e6)) M/s), sum \(checksum)")
            #expect(checksum.isFinite)
        }
    }
}
