import WeightsCore

/// Fork-join over a few workers, the engine's only source of parallelism.
///
/// OpenBLAS runs single-threaded (see ``BLAS``): the engine shares out sequences, output
/// columns and attention heads itself, so a result depends only on the input and the thread
/// count asked for, never on what other calls in the process are doing.
enum Parallel {
    /// Calls `body(0)`, …, `body(count - 1)`, concurrently when `count > 1`, on up to `count`
    /// threads; returns when all have returned.
    @inline(__always)
    static func forEach(_ count: Int, _ body: (Int) -> Void) {
        ParallelChunks.run(jobs: count, threads: count, state: {}) { _, job in body(job) }
    }

    /// `0..<total` cut into `parts` nearly equal consecutive ranges, the first ones longer by
    /// one when it does not divide.
    static func slice(_ total: Int, into parts: Int, part: Int) -> Range<Int> {
        let size = total / parts, extra = total % parts
        let start = part * size + min(part, extra)
        return start..<start + size + (part < extra ? 1 : 0)
    }
}
