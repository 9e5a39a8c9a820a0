/// A value that threads share, guarded by a POSIX mutex.
///
/// The package's threads share state through this type rather than the standard library's
/// `Synchronization.Mutex`. On Linux that `Mutex` takes a contended lock with a
/// priority-inheriting futex inside the (uninstrumented) runtime, so ThreadSanitizer sees no
/// ordering between one thread's unlock and the next thread's lock and reports a race on the
/// guarded value whenever two threads contend. `pthread_mutex_lock` is one of the calls
/// ThreadSanitizer intercepts, so with this type a sanitizer run reports only real races.
///
/// ```swift
/// let total = LockedValue(0)
/// DispatchQueue.concurrentPerform(iterations: 8) { _ in total.withLock { $0 += 1 } }
/// total.withLock { $0 }  // 8
/// ```
///
/// Locking and unlocking cost one uncontended `pthread_mutex_lock`/`unlock` pair (tens of
/// nanoseconds); the lock is not recursive: calling `withLock` inside its own body deadlocks.
@safe  // Safety: owns its mutex (allocated and initialized at init, destroyed and freed at deinit); `value` is read and written only while the mutex is held.
public final class LockedValue<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// Creates a lock guarding `value`.
    public init(_ value: sending Value) {
        self.value = value
        // Safety: the mutex is allocated and initialized here, before any use, and freed only
        // at deinit, when no thread can hold a reference.
        unsafe mutex = .allocate(capacity: 1)
        unsafe mutex.initialize(to: pthread_mutex_t())
        let status = unsafe pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed (\(status))")
    }

    deinit {
        // Safety: no other reference exists, so no thread holds or waits on the mutex.
        _ = unsafe pthread_mutex_destroy(mutex)
        unsafe mutex.deinitialize(count: 1)
        unsafe mutex.deallocate()
    }

    /// Runs `body` on the value while holding the lock, and returns what it returns.
    ///
    /// - Complexity: O(1) plus `body`; waits while another thread holds the lock.
    public func withLock<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        lock()
        defer { unlock() }
        return try body(&value)
    }

    /// Runs `body` on the value if the lock is free, without waiting; returns `nil` when
    /// another thread holds it.
    ///
    /// - Complexity: O(1) plus `body`.
    public func withLockIfAvailable<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result? {
        guard unsafe pthread_mutex_trylock(mutex) == 0 else { return nil }  // Safety: `mutex` lives as long as `self`.
        defer { unlock() }
        return try body(&value)
    }

    private func lock() {
        let status = unsafe pthread_mutex_lock(mutex)  // Safety: `mutex` lives as long as `self`.
        precondition(status == 0, "pthread_mutex_lock failed (\(status))")
    }

    private func unlock() {
        let status = unsafe pthread_mutex_unlock(mutex)  // Safety: held by this thread (locked just before).
        precondition(status == 0, "pthread_mutex_unlock failed (\(status))")
    }
}
