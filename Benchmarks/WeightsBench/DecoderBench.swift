import Foundation
import Weights
import WeightsEngine

/// Benchmarks of the decoder's quantized matrix products on a GGUF file's own matrices.
enum DecoderBench {
    /// `decoder-kernels FILE [--tokens N] [--repeat N] [--layers N]`: for the matrices of the
    /// first N layers (default 2: Gemma 3 270M Q4_K_M's Q5_0, Q8_0, Q4_K and Q6_K), y = W x
    /// for `--tokens` tokens (default 64, one prompt block) with 8-bit activations on one
    /// thread, as a prompt block multiplies them (tiles of rows × tokens), and the same tokens
    /// one at a time (matrix × vector, as generation does). Activations are quantized before
    /// the timing, and the time is the thread's CPU time (on a shared machine, wall time also
    /// counts whatever else ran). Prints one JSON line (seconds per repeat, per matrix) and, on
    /// stderr, a table of G multiply-adds/s by weight type (the best repeat, and the median).
    static func kernels(_ arguments: [String]) throws {
        let file = try GGUFFile(path: arguments[0])
        let tokens = option("tokens", in: arguments, default: 64)
        let repeats = option("repeat", in: arguments, default: 20)
        let layers = option("layers", in: arguments, default: 2)
        let names = file.tensors.map(\.name).filter { name in
            (0..<layers).contains { name.hasPrefix("blk.\($0).") } && name.hasSuffix(".weight")
        }
        var random = SplitMix64(seed: 1)
        var rows: [(name: String, type: String, macs: Double, tile: [Double], vector: [Double])] = []
        for name in names {
            let tensor = try file.tensor(named: name)
            guard tensor.dimensions.count == 2, let matrix = try? QuantizedMatrix(tensor) else { continue }
            var block = ActivationRows()
            block.resize(count: tokens, columns: matrix.columns)
            block.values = (0..<tokens * matrix.columns).map { _ in random.nextUnit() * 4 - 2 }
            var singles: [ActivationRows] = (0..<tokens).map { t in
                var one = ActivationRows()
                one.resize(count: 1, columns: matrix.columns)
                one.values = Array(block.values[t * matrix.columns..<(t + 1) * matrix.columns])
                return one
            }
            var y = [Float](repeating: 0, count: tokens * matrix.rows)
            var single = [Float](repeating: 0, count: matrix.rows)
            // Warm-up: quantizes the activations (kept while their values stay) and reads the
            // weights in.
            matrix.multiply(&block, into: &y, precision: .quantizedActivations)
            for t in 0..<tokens { matrix.multiply(&singles[t], into: &single, precision: .quantizedActivations) }
            let tile = cpuSeconds(repeats: repeats) {
                matrix.multiply(&block, into: &y, precision: .quantizedActivations)
            }
            let vector = cpuSeconds(repeats: repeats) {
                for t in 0..<tokens { matrix.multiply(&singles[t], into: &single, precision: .quantizedActivations) }
            }
            rows.append((name, "\(tensor.type)", Double(matrix.rows * matrix.columns * tokens), tile, vector))
        }
        let list = rows.map {
            "{\"name\":\"\($0.name)\",\"type\":\"\($0.type)\",\"multiply_adds\":\($0.macs),"
                + "\"tile_seconds\":[\($0.tile.map { String($0) }.joined(separator: ","))],"
                + "\"vector_seconds\":[\($0.vector.map { String($0) }.joined(separator: ","))]}"
        }
        print("{\"mode\":\"decoder-kernels\",\"tokens\":\(tokens),\"matrices\":[\(list.joined(separator: ","))]}")
        // By type: all its matrices' multiply-adds over their summed times.
        func rate(_ group: [(name: String, type: String, macs: Double, tile: [Double], vector: [Double])],
                  _ times: KeyPath<(name: String, type: String, macs: Double, tile: [Double], vector: [Double]), [Double]>,
                  _ pick: ([Double]) -> Double) -> String {
            let macs = group.reduce(0) { $0 + $1.macs }
            let seconds = group.reduce(0) { $0 + pick($1[keyPath: times]) }
            return String(format: "%.1f", macs / seconds / 1e9)
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        var table = ["| weight type | matrices | \(tokens) tokens in tiles: best | median | one token at a time: best | median |",
                     "|---|---:|---:|---:|---:|---:|"]
        for type in Set(rows.map(\.type)).sorted() {
            let group = rows.filter { $0.type == type }
            table.append("| \(type) | \(group.count) | \(rate(group, \.tile, { $0.min()! })) | \(rate(group, \.tile, median)) "
                         + "| \(rate(group, \.vector, { $0.min()! })) | \(rate(group, \.vector, median)) |")
        }
        table.append("| all | \(rows.count) | \(rate(rows, \.tile, { $0.min()! })) | \(rate(rows, \.tile, median)) "
                     + "| \(rate(rows, \.vector, { $0.min()! })) | \(rate(rows, \.vector, median)) |")
        FileHandle.standardError.write(Data((table.joined(separator: "\n") + "\n").utf8))
    }
}

extension DecoderBench {
    /// `tokenizer-load FILE [--repeat N]`: build the SentencePiece tokenizer from an opened
    /// GGUF file's metadata (Gemma 3: 262,144 tokens), N times; the file is opened (and its
    /// metadata parsed) once, before the timing, and that is reported apart.
    static func tokenizerLoad(_ arguments: [String]) throws {
        let openStart = Timing.now()
        let file = try GGUFFile(path: arguments[0])
        let openSeconds = Timing.now() - openStart
        var tokens = 0
        let seconds = try Timing.measure(repeats: option("repeat", in: arguments, default: 20)) {
            tokens = try SentencePieceTokenizer(gguf: file).vocabulary.count
        }
        Timing.report("tokenizer-load", seconds, extra: "\"tokens\":\(tokens),\"open_seconds\":\(openSeconds)")
    }
}

/// Each of `repeats` runs of `body`, in seconds of the calling thread's CPU time.
private func cpuSeconds(repeats: Int, _ body: () -> Void) -> [Double] {
    (0..<repeats).map { _ in
        let start = Timing.threadCPUTime()
        body()
        return Timing.threadCPUTime() - start
    }
}

/// A seeded generator (SplitMix64), so every run multiplies the same activations.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A float in [0, 1).
    mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
