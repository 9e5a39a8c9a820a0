import Dispatch
import Synchronization

import WeightsPlatform

/// Runs independent jobs on a fixed number of threads, each thread with its own state (a
/// zstd context, a scratch buffer), and reports the first error.
///
/// Threads take the next job from a shared counter, so a slow job does not hold up the others.
/// After an error no new job starts.
///
/// ```swift
/// try ParallelChunks.run(jobs: chunks.count, threads: 4, state: { try Zstd.Decompressor() }) { decompressor, job in
///     try decompressor.decompress(frames[job], into: outputs[job])
/// }
/// ```
public enum ParallelChunks {
    /// The number of cores online: the default thread count for compressing and decompressing.
    public static var availableCores: Int {
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Runs `body` once for every job in `0..<jobs` on up to `threads` threads; `state`
    /// makes each thread's state once. With closures that cannot throw, neither can this.
    ///
    /// - Complexity: the jobs' total work over `min(threads, jobs)` threads.
    /// - Throws: the first error that `state` or `body` threw.
    package static func run<State, Failure: Error>(
        jobs: Int, threads: Int,
        state makeState: () throws(Failure) -> State,
        _ body: (inout State, Int) throws(Failure) -> Void
    ) throws(Failure) {
        let workers = max(1, min(threads, jobs))
        if workers == 1 {
            guard jobs > 0 else { return }
            var state = try makeState()
            for job in 0..<jobs { try body(&state, job) }
            return
        }
        let next = Atomic<Int>(0)
        let failure = LockedValue<Failure?>(nil)
        // The closures only run during `concurrentPerform`, which returns when all have returned.
        withoutActuallyEscaping(makeState) { makeState in
            withoutActuallyEscaping(body) { body in
                let makeStateBox = UncheckedSendable(makeState), bodyBox = UncheckedSendable(body)
                DispatchQueue.concurrentPerform(iterations: workers) { _ in
                    do throws(Failure) {
                        var state = try makeStateBox.value()
                        while failure.withLock({ $0 == nil }) {
                            let job = next.add(1, ordering: .relaxed).oldValue
                            guard job < jobs else { break }
                            try bodyBox.value(&state, job)
                        }
                    } catch {
                        failure.withLock { if $0 == nil { $0 = error } }
                    }
                }
            }
        }
        if let error = failure.withLock({ $0.take() }) { throw error }
    }
}
