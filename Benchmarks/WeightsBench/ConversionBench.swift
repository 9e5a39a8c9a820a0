import Weights

import WeightsPlatform

/// In-memory conversion throughput, for Benchmarks/conversion/run.py to set beside numpy's
/// `astype` in the same run.
///
/// Usage: WeightsBench convert-memory <f16|bf16|f32-from-f16|f32-from-bf16> [--elements N]
///        [--repeat R] [--kernel best|portable]
/// Prints {"mode": "convert-memory", "pair": ..., "elements": N, "seconds": [...]}.
enum ConversionBench {
    static func memory(_ arguments: [String]) throws {
        let pair = arguments.first ?? "f16"
        let elements = Int(option("--elements", in: arguments) ?? "") ?? 64 << 20
        let repeats = Int(option("--repeat", in: arguments) ?? "") ?? 7
        let kernel: ConversionKernel = option("--kernel", in: arguments) == "portable" ? .portable : .best
        let (from, to): (FloatFormat, FloatFormat) = switch pair {
        case "f16": (.f32, .f16)
        case "bf16": (.f32, .bf16)
        case "f32-from-f16": (.f16, .f32)
        case "f32-from-bf16": (.bf16, .f32)
        default: throw WeightsError(.invalidArgument, "unknown pair '\(pair)'")
        }
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: elements * from.byteWidth, alignment: 64)
        let destination = UnsafeMutableRawBufferPointer.allocate(byteCount: elements * to.byteWidth, alignment: 64)
        defer {
            unsafe source.deallocate()
            unsafe destination.deallocate()
        }
        // Normal-ish values of every sign and magnitude a weight has; touch every page first.
        var state: UInt32 = 12345
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: 4096)
        defer { unsafe floats.deallocate() }
        for index in 0..<4096 {
            state = state &* 1_664_525 &+ 1_013_904_223
            unsafe floats[index] = (Float(state >> 8) / Float(1 << 24) - 0.5) * 0.1
        }
        for start in stride(from: 0, to: elements, by: 4096) {
            let count = min(4096, elements - start)
            unsafe FloatFormat.convert(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(floats)[0..<count * 4]), from: .f32, to: from,
                                into: UnsafeMutableRawBufferPointer(rebasing: source[start * from.byteWidth..<(start + count) * from.byteWidth]))
        }
        unsafe destination.initializeMemory(as: UInt8.self, repeating: 0)
        var seconds: [Double] = []
        for _ in 0..<repeats {
            let start = now()
            unsafe FloatFormat.convert(UnsafeRawBufferPointer(source), from: from, to: to, into: destination, kernel: kernel)
            seconds.append(now() - start)
        }
        let list = seconds.map { String($0) }.joined(separator: ", ")
        print("{\"mode\": \"convert-memory\", \"pair\": \"\(pair)\", \"elements\": \(elements), \"seconds\": [\(list)]}")
    }

    private static func option(_ name: String, in arguments: [String]) -> String? {
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
        return arguments[index + 1]
    }

    private static func now() -> Double {
        var time = timespec()
        unsafe clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
