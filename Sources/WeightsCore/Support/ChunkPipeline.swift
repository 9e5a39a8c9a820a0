import Dispatch

/// Produces chunks on one core while the previous chunk is consumed on another.
///
/// Converting a tensor is two kinds of work of similar cost: computing a chunk of output and
/// handing it to the kernel with `write(2)`. Overlapping them keeps both cores of a small
/// machine busy even when a file holds a single large tensor. Two buffers alternate, so memory
/// stays at two chunks.
enum ChunkPipeline {
    // Sound: `produce(k, k % 2)` and `consume` of chunk `k - 1` (slot `(k - 1) % 2`) touch
    // different buffers; `withoutActuallyEscaping` is right since `concurrentPerform` returns
    // only once both lanes have, so neither closure outlives the call; `step.produced` is
    // written by one lane and read after that join; it is non-nil unless `produce` threw, and
    // then `step.error` is thrown first.
    /// Calls `produce(k, slot)` for every chunk `k` in order, and `consume` with each result,
    /// in order; `produce(k + 1)` runs alongside `consume(k)`. `slot` (0 or 1) names the buffer
    /// that `produce` may overwrite: the other one is being consumed.
    ///
    /// Errors stop the pipeline after the step in flight; the first is rethrown.
    ///
    /// The buffer `produce` returns must stay valid until `consume` has taken it: the caller's
    /// two slot buffers, alive for the whole call.
    static func run(
        chunkCount: Int,
        produce: (_ chunk: Int, _ slot: Int) throws -> UnsafeRawBufferPointer,
        consume: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard chunkCount > 0 else { return }
        var pending = unsafe try produce(0, 0)
        for chunk in 1...chunkCount {
            if chunk == chunkCount || !parallel {
                unsafe try consume(pending)
                if chunk < chunkCount { unsafe pending = unsafe try produce(chunk, chunk % 2) }
                continue
            }
            let step = Step()
            unsafe withoutActuallyEscaping(produce) { produce in
                unsafe withoutActuallyEscaping(consume) { consume in
                    let work = unsafe UncheckedSendable((produce, consume, pending))
                    DispatchQueue.concurrentPerform(iterations: 2) { lane in
                        let (produce, consume, pending) = unsafe work.value
                        if lane == 0 {
                            step.run { unsafe try consume(pending) }
                        } else {
                            step.run { unsafe step.produced = unsafe try produce(chunk, chunk % 2) }
                        }
                    }
                }
            }
            if let error = step.error { throw error }
            unsafe pending = unsafe step.produced!
        }
    }

    /// Whether to overlap at all: on one CPU it only adds thread hops.
    static let parallel = cpuCount > 1

    static let cpuCount = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// The outcome of one overlapped step. The two lanes write disjoint fields except the
    /// first error, which a mutex guards.
    @safe  // Safety: holds the pointer one lane produced, to the caller's buffer, for the step; the two lanes touch disjoint fields.
    private final class Step: @unchecked Sendable {
        var produced: UnsafeRawBufferPointer?
        private let firstError = LockedValue<(any Error)?>(nil)

        var error: (any Error)? { firstError.withLock { $0 } }

        func run(_ body: () throws -> Void) {
            do { try body() } catch { firstError.withLock { if $0 == nil { $0 = error } } }
        }
    }
}

/// Moves a value across a concurrency boundary the compiler cannot see through; the pipeline
/// guarantees the two lanes never share mutable state.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

import WeightsPlatform
