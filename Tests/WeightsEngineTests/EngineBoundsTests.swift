import Foundation
import Testing
import Weights
import WeightsEngine
import WeightsTestSupport

/// Inputs to the engine's safe package APIs that do not fit what the C kernels will read: each
/// is refused (a typed error for data, a trap for a misused API) instead of being read out of
/// bounds, and the fitting input next to it still works. The traps run in child processes
/// (exit tests) and must end by the trap's signal.
@Suite struct EngineBoundsTests {
    /// How a Swift trap ends a process (``trapSignal``).
    static let trap = ExitTest.Condition.signal(trapSignal)

    static let tinyDecoders = repositoryRoot + "/Fixtures/tiny-decoder"

    /// A GGUF entry is public and settable: one that claims more rows than its bytes hold must
    /// not reach the quantized kernels, which read rows × row bytes from its start.
    @Test func aQuantizedMatrixLongerThanItsBytesIsRefused() throws {
        let file = try GGUFFile(path: Self.tinyDecoders + "/gemma3.gguf")
        var info = try #require(file.tensorInfo(named: "token_embd.weight"))  // F32 32 × 128: 16,384 bytes
        #expect(info.byteCount == 16_384)
        info.type = .q8_0
        info.dimensions = [32, 128]  // 128 rows of one 34-byte block: 4,352 bytes, inside
        #expect(try QuantizedMatrix(file.tensor(info)).rows == 128)
        info.dimensions = [32, 1000]  // 34,000 bytes
        let error = try #require(throws: WeightsError.self) { try QuantizedMatrix(file.tensor(info)) }
        #expect(error.code == .invalidData && error.reason.contains("cannot hold 1000 rows"), "\(error)")
    }

    /// A hub layer's fields are public and settable too: a shape, layout or block size that
    /// needs more values or scales than its tensors hold is refused before any product.
    @Test func aHubLayerThatOutgrowsItsTensorsIsRefused() throws {
        let weight = try Tensor(name: "layer.weight", dtype: .f8E4M3, shape: [2, 256],
                                bytes: [UInt8](repeating: 0x38, count: 512))
        let scales = try Tensor(name: "layer.weight_scale", shape: [2, 1], elements: [Float(1), 3])
        let file = try SafetensorsFile(bytes: SafetensorsWriter.serialize([weight, scales], metadata: nil))
        let layer = try #require(try HubQuantizedLayout.layers(in: file)["layer"])
        let widened = try WeightMatrix(layer: layer, reading: file.tensor(named:)).floats(rows: 0..<2)
        #expect(widened[0] == 1 && widened[256] == 3)  // 0x38 is 1.0 in E4M3

        var taller = layer
        taller.weight.shape = [4, 256]  // rows the values do not hold
        var packed = layer
        packed.layout = .packedIntegers(bits: 4, groupSize: 256, symmetric: true)  // 1,024 bytes a row
        var blocks = layer
        blocks.layout = .scaledFP8(.block(size: 64))  // four scales a row, two in all
        for made in [taller, packed, blocks] {
            let error = try #require(throws: WeightsError.self) {
                try WeightMatrix(layer: made, reading: file.tensor(named:))
            }
            #expect(error.code == .invalidData, "\(made.layout) \(made.weight.shape): \(error)")
        }
        // The reader is the caller's too: a values tensor other than the layer's is checked.
        let short = try Tensor(name: "layer.weight", dtype: .f8E4M3, shape: [1, 256], bytes: [UInt8](repeating: 0, count: 256))
        let error = try #require(throws: WeightsError.self) {
            try WeightMatrix(layer: layer, reading: { $0 == "layer.weight" ? short : try file.tensor(named: $0) })
        }
        #expect(error.code == .invalidData, "\(error)")
    }

    /// Attention reads the cache with the decoder's own widths: a cache made by another
    /// decoder (here six layers against two) is a misuse that traps.
    @Test func aCacheOfAnotherDecoderTraps() async throws {
        let llama = try TransformerDecoder(gguf: GGUFFile(path: Self.tinyDecoders + "/llama.gguf"), threads: 1)
        var own = llama.makeCache()
        #expect(try llama.forward(1, cache: &own).count == llama.configuration.vocabularySize)
        await #expect(processExitsWith: Self.trap) {
            let llama = try TransformerDecoder(gguf: GGUFFile(path: Self.tinyDecoders + "/llama.gguf"), threads: 1)
            let gemma = try TransformerDecoder(gguf: GGUFFile(path: Self.tinyDecoders + "/gemma3.gguf"), threads: 1)
            var cache = gemma.makeCache()
            _ = try llama.forward(1, cache: &cache)
        }
    }

    /// `ActivationRows.values` is settable: shortened below `count × columns` after `resize`,
    /// it must not be read past its end by the quantizing kernel or the product's.
    @Test func activationRowsShorterThanTheirCountTrap() async throws {
        let q8 = Int32(GGMLType.q8_0.rawValue)
        var rows = ActivationRows()
        rows.resize(count: 2, columns: 32)
        #expect(rows.blocks(for: q8).bytes.count >= 2 * 36)
        await #expect(processExitsWith: Self.trap) {
            var rows = ActivationRows()
            rows.resize(count: 64, columns: 32)
            rows.values = [Float](repeating: 1, count: 32)
            _ = rows.blocks(for: Int32(GGMLType.q8_0.rawValue))
        }
        await #expect(processExitsWith: Self.trap) {
            let file = try GGUFFile(path: Self.tinyDecoders + "/gemma3.gguf")
            var info = try #require(file.tensorInfo(named: "token_embd.weight"))
            info.type = .q8_0  // 128 rows of one block, read by the kernel from the floats as they are
            let matrix = try QuantizedMatrix(file.tensor(info))
            var rows = ActivationRows()
            rows.resize(count: 64, columns: 32)
            rows.values = [Float](repeating: 1, count: 32)
            var output = [Float](repeating: 0, count: 64 * matrix.rows)
            matrix.multiply(&rows, into: &output)
        }
    }
}
