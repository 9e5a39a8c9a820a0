import Dispatch
import Testing
import WeightsPlatform

/// The lock every shared state of the package sits under. Under ThreadSanitizer these tests
/// also check that a contended lock orders its holders (the standard library's `Mutex`
/// reported races here on Linux; see `LockedValue`).
@Suite struct LockedValueTests {
    @Test func contendingThreadsLoseNoUpdate() {
        let threads = 4
        let rounds = 20_000
        let shared = LockedValue((count: 0, log: [Int]()))
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for round in 0..<rounds {
                shared.withLock { state in
                    state.count += 1
                    // A read-modify-write of heap storage, as the restore pipeline's slots are.
                    state.log.append(thread)
                    if state.log.count > 64 { state.log.removeFirst(32) }
                    _ = round
                }
            }
        }
        #expect(shared.withLock { $0.count } == threads * rounds)
    }

    @Test func tryingAHeldLockReturnsNil() {
        let value = LockedValue(7)
        let refusedWhileHeld = value.withLock { _ in value.withLockIfAvailable { _ in true } == nil }
        #expect(refusedWhileHeld)
        #expect(value.withLockIfAvailable { $0 } == 7)
    }

    @Test func errorsFromTheBodyReleaseTheLock() {
        struct Failure: Error {}
        let value = LockedValue(0)
        #expect(throws: Failure.self) { try value.withLock { (_: inout Int) throws(Failure) in throw Failure() } }
        #expect(value.withLockIfAvailable { $0 } == 0)
    }
}
