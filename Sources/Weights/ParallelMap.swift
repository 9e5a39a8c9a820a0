import Dispatch
import Synchronization

/// Runs independent jobs of uneven size on all cores.
///
/// Jobs start in decreasing order of cost (longest-processing-time first), so that a large
/// job never starts last and leaves the other cores idle.
///
/// ```swift
/// let digests = try ParallelMap.run(count: files.count, cost: { sizes[$0] }) { i in
///     try SHA256Digest.file(at: files[i])
/// }
/// ```
public enum ParallelMap {
    /// Calls `body` for every index in `0..<count`, `threads` at a time, and returns the
    /// results in index order. The first error stops further jobs and is rethrown.
    ///
    /// - Parameter threads: Defaults to the number of online cores.
    public static func run<T: Sendable>(
        count: Int, threads: Int? = nil, cost: (Int) -> Int,
        _ body: @Sendable (Int) throws -> T
    ) throws -> [T] {
        let order = (0..<count).sorted { cost($0) > cost($1) }
        let results = Mutex([T?](repeating: nil, count: count))
        let failure = Mutex<(any Error)?>(nil)
        let next = Atomic<Int>(0)
        let workers = max(1, min(threads ?? onlineCores, count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while failure.withLock({ $0 == nil }) {
                let slot = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard slot < order.count else { return }
                do {
                    let value = try body(order[slot])
                    results.withLock { $0[order[slot]] = value }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results.withLock { $0.map { $0! } }
    }

    /// The number of online cores.
    public static var onlineCores: Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#endif
