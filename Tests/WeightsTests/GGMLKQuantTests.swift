import Foundation
import Testing
import Weights

/// Q4_K and Q6_K against llama.cpp's reference quantizer (make_kquant_fixtures.py):
/// `kquants-llamacpp.gguf` from the libggml-base that llama-cpp-python 0.3.36 builds (its
/// quantizer compiled for baseline x86-64, so without fused multiply-adds), and
/// `kquants-llamacpp-fma.gguf` from the same ggml-quants.c compiled with `-march=native`,
/// where GCC fuses some multiply-adds.
@Suite struct GGMLKQuantTests {
    static let llamaCpp: GGUFFile? = try? GGUFFile(path: packagePath("Fixtures/gguf/kquants-llamacpp.gguf"))
    static let fused: GGUFFile? = try? GGUFFile(path: packagePath("Fixtures/gguf/kquants-llamacpp-fma.gguf"))
    static let sets = ["normal", "uniform", "positive", "scaled", "zeros", "constant", "ties", "sparse", "pow2", "extreme",
                       "from_f16", "normal_large", "heavy"]

    struct Comparison {
        var blocks = 0, identical = 0
        var oursSquared = 0.0, theirsSquared = 0.0, count = 0
        var oursRMS: Double { (oursSquared / Double(max(count, 1))).squareRoot() }
        var theirsRMS: Double { (theirsSquared / Double(max(count, 1))).squareRoot() }
    }

    static func compare(_ type: GGMLType, set: String, in reference: GGUFFile?) throws -> Comparison {
        let file = try #require(reference)
        let input = try file.tensor(named: "input.\(set)").dequantized()
        let reference = try file.tensor(named: "\(type.name.lowercased()).\(set)")
        let ours = try GGMLQuantizer.quantize(input, as: type)
        let theirs = reference.copyBytes()
        var result = Comparison()
        result.blocks = ours.count / type.typeSize
        for b in 0..<result.blocks where ours[b * type.typeSize..<(b + 1) * type.typeSize] == theirs[b * type.typeSize..<(b + 1) * type.typeSize] {
            result.identical += 1
        }
        let oursDecoded = try GGUFFile(bytes: GGUFFile.single(name: "t", type: type, count: input.count, bytes: ours))
            .tensor(named: "t").dequantized()
        let theirsDecoded = try reference.dequantized()
        for i in input.indices {
            let x = Double(input[i])
            result.oursSquared += (Double(oursDecoded[i]) - x) * (Double(oursDecoded[i]) - x)
            result.theirsSquared += (Double(theirsDecoded[i]) - x) * (Double(theirsDecoded[i]) - x)
        }
        result.count = input.count
        return result
    }

    @Test(arguments: [GGMLType.q4_K, .q6_K])
    func sameBlocksAsLlamaCpp(type: GGMLType) throws {
        for set in Self.sets {
            let c = try Self.compare(type, set: set, in: Self.llamaCpp)
            #expect(c.identical == c.blocks, "\(type) '\(set)': \(c.blocks - c.identical) of \(c.blocks) blocks differ")
        }
    }

    /// Against a build with fused multiply-adds: most blocks identical, and the error the same
    /// to rounding (the fused operations round differently, in either direction).
    @Test(arguments: [GGMLType.q4_K, .q6_K])
    func closeToABuildWithFusedMultiplyAdds(type: GGMLType) throws {
        var total = Comparison()
        for set in Self.sets {
            let c = try Self.compare(type, set: set, in: Self.fused)
            total.blocks += c.blocks
            total.identical += c.identical
            guard set != "extreme" else { continue }   // values near ±3e38 decode to infinities
            print("\(type) \(set): \(c.identical)/\(c.blocks) blocks identical; RMS error \(c.oursRMS), llama.cpp \(c.theirsRMS)")
            #expect(c.oursRMS <= c.theirsRMS * 1.001, "\(type) '\(set)': RMS \(c.oursRMS) against llama.cpp's \(c.theirsRMS)")
        }
        print("\(type): \(total.identical)/\(total.blocks) blocks identical to the fused build")
        #expect(Double(total.identical) >= 0.9 * Double(total.blocks))
    }
}
