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

    /// `first()` and `second()`, side by side on two threads when `concurrently`, else one
    /// after the other; when either throws, `first`'s error is the one thrown (both run).
    ///
    /// ```swift
    /// let (model, tokenizer) = try Parallel.both(concurrently: threads != 1, { try load() }, { try readTokenizer() })
    /// ```
    static func both<First, Second>(concurrently: Bool, _ first: () throws -> First,
                                    _ second: () throws -> Second) throws -> (First, Second) {
        let firstResult = ResultSlots<Swift.Result<First, any Error>?>(count: 1, initial: nil)
        let secondResult = ResultSlots<Swift.Result<Second, any Error>?>(count: 1, initial: nil)
        forEach(concurrently ? 2 : 1) { part in
            if part == 0 { firstResult[0] = Swift.Result { try first() } }
            if part == 1 || !concurrently { secondResult[0] = Swift.Result { try second() } }
        }
        return (try firstResult[0]!.get(), try secondResult[0]!.get())
    }

    /// `0..<total` cut into `parts` nearly equal consecutive ranges, the first ones longer by
    /// one when it does not divide.
    static func slice(_ total: Int, into parts: Int, part: Int) -> Range<Int> {
        let size = total / parts, extra = total % parts
        let start = part * size + min(part, extra)
        return start..<start + size + (part < extra ? 1 : 0)
    }
}
