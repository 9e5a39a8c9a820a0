import Dispatch
import Testing
import Weights

// Every binary32 bit pattern through F32→F16 and F32→BF16, with both kernels, against the
// reference written from the IEEE rules; every 16-bit pattern back to F32. A release build
// walks all 2^32 patterns (about a minute on two cores); a debug build walks a strided sample
// that still covers every exponent, because the full walk would take hours unoptimized.

@Suite("Conversion, exhaustive")
struct ConversionExhaustiveTests {
    /// Patterns per block handed to a kernel at once.
    static let blockSize = 1 << 16

    #if DEBUG
    /// Every 1021st pattern (a prime): about 4 million, across every exponent of both signs.
    static let stride: UInt64 = 1021
    #else
    static let stride: UInt64 = 1
    #endif

    struct Walk: Sendable {
        var checked = 0
        var mismatches = 0
        var firstMismatch: String?
        var overflowsCounted = 0
        var overflowsCountedPortable = 0
        var overflowsExpected = 0

        mutating func merge(_ other: Walk) {
            checked += other.checked
            mismatches += other.mismatches
            firstMismatch = firstMismatch ?? other.firstMismatch
            overflowsCounted += other.overflowsCounted
            overflowsCountedPortable += other.overflowsCountedPortable
            overflowsExpected += other.overflowsExpected
        }
    }

    /// Walks all binary32 patterns `stride` apart on every core, converting each block to
    /// `target` with both kernels and comparing every element with `format`'s reference.
    static func walkBinary32(to target: FloatFormat, reference format: ReferenceFormat) -> Walk {
        let patterns = (UInt64(1) << 32 + stride - 1) / stride
        let blocks = Int((patterns + UInt64(blockSize) - 1) / UInt64(blockSize))
        let workers = max(1, min(ConversionTestCPUs.value, blocks))
        let total = LockedValue(Walk())
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var walk = Walk()
            var input = [UInt32](repeating: 0, count: blockSize)
            var best = [UInt16](repeating: 0, count: blockSize)
            var portable = [UInt16](repeating: 0, count: blockSize)
            for block in Swift.stride(from: worker, to: blocks, by: workers) {
                let first = UInt64(block) * UInt64(blockSize)
                let count = Int(min(UInt64(blockSize), patterns - first))
                for index in 0..<count { input[index] = UInt32(truncatingIfNeeded: (first + UInt64(index)) * stride) }
                walk.overflowsCounted += convert(input, count: count, to: target, into: &best, kernel: .best)
                walk.overflowsCountedPortable += convert(input, count: count, to: target, into: &portable, kernel: .portable)
                for index in 0..<count {
                    let bits = input[index]
                    let expected = format.round(binary32: bits)
                    if bits & 0x7F80_0000 != 0x7F80_0000, format.isInfinite(expected) { walk.overflowsExpected += 1 }
                    if best[index] != expected || portable[index] != expected {
                        walk.mismatches += 1
                        if walk.firstMismatch == nil {
                            walk.firstMismatch = "0x\(String(bits, radix: 16)) gave 0x\(String(best[index], radix: 16)) "
                                + "(portable 0x\(String(portable[index], radix: 16))), expected 0x\(String(expected, radix: 16))"
                        }
                    }
                }
                walk.checked += count
            }
            total.withLock { $0.merge(walk) }
        }
        return total.withLock { $0 }
    }

    static func convert(_ input: [UInt32], count: Int, to target: FloatFormat, into output: inout [UInt16],
                        kernel: ConversionKernel) -> Int {
        unsafe input.withUnsafeBytes { source in
            unsafe output.withUnsafeMutableBytes { destination in
                unsafe FloatFormat.convert(UnsafeRawBufferPointer(rebasing: source[0..<count * 4]), from: .f32, to: target,
                                    into: UnsafeMutableRawBufferPointer(rebasing: destination[0..<count * 2]),
                                    kernel: kernel)
            }
        }
    }

    /// `WEIGHTS_SKIP_EXHAUSTIVE=1` (set by scripts/sanitize) skips the binary32 walk: under a
    /// sanitizer even the strided debug walk takes minutes, and it exercises no code that the
    /// other conversion tests leave out.
    static let skipped: Bool = skipsSlowTests

    @Test("F32→F16 and F32→BF16: every pattern, both kernels, against the IEEE reference",
          .disabled(if: skipped, "WEIGHTS_SKIP_EXHAUSTIVE=1"),
          arguments: [(FloatFormat.f16, ReferenceFormat.binary16), (.bf16, .bfloat16)])
    func narrowing(format: (FloatFormat, ReferenceFormat)) {
        let walk = Self.walkBinary32(to: format.0, reference: format.1)
        #expect(walk.checked == Int((UInt64(1) << 32 + Self.stride - 1) / Self.stride))
        #expect(walk.mismatches == 0, "first: \(walk.firstMismatch ?? "")")
        #expect(walk.overflowsCounted == walk.overflowsExpected)
        #expect(walk.overflowsCountedPortable == walk.overflowsExpected)
        #expect(walk.overflowsExpected > 0)
    }

    @Test("F16→F32 and BF16→F32 are exact for all 65,536 patterns, and round-trip",
          arguments: [(FloatFormat.f16, ReferenceFormat.binary16), (.bf16, .bfloat16)], [ConversionKernel.best, .portable])
    func widening(format: (FloatFormat, ReferenceFormat), kernel: ConversionKernel) {
        let (source, reference) = format
        let patterns = (0...UInt16.max).map { $0 }
        var widened = [UInt32](repeating: 0, count: patterns.count)
        var back = [UInt16](repeating: 0, count: patterns.count)
        unsafe patterns.withUnsafeBytes { input in
            unsafe widened.withUnsafeMutableBytes { _ = unsafe FloatFormat.convert(input, from: source, to: .f32, into: $0, kernel: kernel) }
        }
        let overflows = unsafe widened.withUnsafeBytes { input in
            unsafe back.withUnsafeMutableBytes { unsafe FloatFormat.convert(input, from: .f32, to: source, into: $0, kernel: kernel) }
        }
        #expect(overflows == 0)
        var wrong = patterns.filter { widened[Int($0)] != reference.widen($0) }
        #expect(wrong.isEmpty, "first: 0x\(String(wrong.first ?? 0, radix: 16))")
        // Every number comes back unchanged; a NaN comes back as itself made quiet.
        let quietBit: UInt16 = source == .f16 ? 0x0200 : 0x0040
        wrong = patterns.filter { bits in
            let isNaN = bits & reference.infinityBits == reference.infinityBits && !reference.isInfinite(bits)
            return back[Int(bits)] != (isNaN ? bits | quietBit : bits)
        }
        #expect(wrong.isEmpty, "first: 0x\(String(wrong.first ?? 0, radix: 16))")
    }
}

extension ConversionKernel: CustomTestStringConvertible {
    public var testDescription: String { self == .best ? "best" : "portable" }
}

/// The number of CPUs this process may use.
enum ConversionTestCPUs {
    static let value = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}

import WeightsPlatform
