import WeightsPlatform

/// Runs independent jobs of uneven size on all cores and collects their results.
///
/// Jobs start in decreasing order of cost (longest-processing-time first), so that a large
/// job never starts last and leaves the other cores idle. The threads are
/// ``ParallelChunks``'s.
///
/// ```swift
/// let digests = try ParallelMap.run(count: files.count, cost: { sizes[$0] }) { i in
///     try SHA256Digest.file(at: files[i])
/// }
/// ```
package enum ParallelMap {
    /// Calls `body` for every index in `0..<count`, `threads` at a time, and returns the
    /// results in index order. The first error stops further jobs and is rethrown.
    ///
    /// - Parameter threads: Defaults to ``ParallelChunks/availableCores``.
    package static func run<T: Sendable>(
        count: Int, threads: Int? = nil, cost: (Int) -> Int,
        _ body: @Sendable (Int) throws -> T
    ) throws -> [T] {
        let order = (0..<count).sorted { cost($0) > cost($1) }
        let results = LockedValue([T?](repeating: nil, count: count))
        try ParallelChunks.run(jobs: count, threads: threads ?? ParallelChunks.availableCores, state: {}) { _, slot in
            let index = order[slot]
            let value = try body(index)
            results.withLock { $0[index] = value }
        }
        return results.withLock { $0.map { $0! } }
    }
}
