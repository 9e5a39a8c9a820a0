import CWeightsSIMD
import Dispatch
import Synchronization
import WeightsPlatform

/// A fixed set of threads that stay alive between calls, for the decoder's many small
/// parallel steps (about 130 matrix products per generated token, each a fraction of a
/// millisecond): handing work to a waiting thread costs a few hundred nanoseconds, where
/// creating tasks or threads per product would cost more than the product.
///
/// The calling thread takes part as worker 0. Between calls the other workers spin briefly
/// (the next product usually follows within microseconds), then sleep on a semaphore. A call
/// made while another call is running (two sequences generating at once) runs its jobs on
/// the calling thread alone, so results never depend on who else uses the pool.
///
/// ```swift
/// let pool = WorkerPool(threads: 2)
/// pool.run(jobs: 2) { job in work(part: job) }
/// ```
package final class WorkerPool: Sendable {
    /// Workers including the caller.
    package let threads: Int
    private let state: State

    package init(threads: Int) {
        self.threads = max(1, threads)
        state = State(workers: self.threads - 1)
        for worker in 0..<self.threads - 1 {
            let state = self.state
            DetachedThread.start(name: "weights-worker-\(worker + 1)") { state.work(worker) }
        }
    }

    deinit { state.stop() }

    /// Calls `body(0)`, …, `body(jobs - 1)`, spread over the pool's threads; returns when all
    /// have returned. `body` must not call `run` on the same pool.
    package func run(jobs: Int, _ body: (Int) -> Void) {
        guard jobs > 1, threads > 1 else {
            for job in 0..<max(0, jobs) { body(job) }
            return
        }
        state.run(jobs: jobs, body)
    }

    /// What the threads share. Kept apart from `WorkerPool` so that the threads, which hold
    /// it, do not keep the pool alive: the pool's `deinit` stops them.
    ///
    /// One atomic word, `ticket`, holds the call's generation, its job count and the next job
    /// to take; every thread, the caller included, takes jobs by compare-and-swap on it. The
    /// caller waits only for the jobs to finish, not for every worker to turn up, so a worker
    /// the scheduler has not run yet (a busy machine) holds nothing up: its share is taken by
    /// the others.
    private final class State: @unchecked Sendable {
        // `body` is written by the caller before it publishes the call's ticket (a releasing
        // store) and read by a worker only after it has taken a job from that ticket (an
        // acquiring compare-and-swap); the caller clears it only after every taken job has
        // reported done (releasing add, acquiring load). Each access is ordered, which is why
        // this class can be @unchecked Sendable.
        private var body: ((Int) -> Void)?
        let busy = LockedValue<Void>(())
        /// generation << 42 | job count << 21 | next job.
        private let ticket = Atomic<Int>(0)
        private let finished = Atomic<Int>(0)
        private let stopping = Atomic<Bool>(false)
        private let sleepers: [Sleeper]
        private var generation = 0
        private static let field = 1 << 21

        final class Sleeper: Sendable {
            let asleep = Atomic<Bool>(false)
            let wake = DispatchSemaphore(value: 0)
        }

        init(workers: Int) { sleepers = (0..<workers).map { _ in Sleeper() } }

        func run(jobs: Int, _ body: (Int) -> Void) {
            // Another call holds the workers, or too many jobs for the ticket: run on this thread.
            guard jobs < Self.field, let ran: Void = busy.withLockIfAvailable({ _ in
                withoutActuallyEscaping(body) { body in
                    self.body = body
                    finished.store(0, ordering: .relaxed)
                    generation = (generation + 1) % (1 << 20)
                    ticket.store((generation << 42) | (jobs << 21), ordering: .sequentiallyConsistent)
                    for sleeper in sleepers where sleeper.asleep.exchange(false, ordering: .sequentiallyConsistent) {
                        sleeper.wake.signal()
                    }
                    while let job = takeJob() {
                        body(job)
                        finished.add(1, ordering: .releasing)
                    }
                    var spins = 0
                    while finished.load(ordering: .acquiring) < jobs {
                        spins += 1
                        if spins < 1 << 12 { weights_spin_pause() } else { sched_yield() }
                    }
                    self.body = nil
                }
            }) else {
                for job in 0..<jobs { body(job) }
                return
            }
            _ = ran
        }

        /// The next job of the current call, or nil when all are taken.
        private func takeJob() -> Int? {
            var current = ticket.load(ordering: .acquiring)
            while true {
                let next = current & (Self.field - 1), count = (current >> 21) & (Self.field - 1)
                guard next < count else { return nil }
                let (exchanged, original) = ticket.compareExchange(expected: current, desired: current + 1,
                                                                   ordering: .acquiringAndReleasing)
                if exchanged { return next }
                current = original
            }
        }

        /// Out of line so that the worker's reference to `body` ends before it reports the job
        /// done: `withoutActuallyEscaping` checks that no reference outlives the call.
        @inline(never)
        private func runJob(_ job: Int) {
            if let body { body(job) }
        }

        func work(_ worker: Int) {
            let sleeper = sleepers[worker]
            var seen = 0
            while true {
                var spins = 0
                while ticket.load(ordering: .acquiring) >> 42 == seen {
                    spins += 1
                    if spins < 1 << 14 { weights_spin_pause(); continue }
                    // Sleep. The caller clears `asleep` and signals after publishing a ticket; a
                    // worker that sees the new ticket after announcing its sleep takes the flag
                    // back, or, if the caller took it first, consumes the signal.
                    sleeper.asleep.store(true, ordering: .sequentiallyConsistent)
                    if ticket.load(ordering: .sequentiallyConsistent) >> 42 == seen
                        || !sleeper.asleep.exchange(false, ordering: .sequentiallyConsistent) {
                        sleeper.wake.wait()
                    }
                    spins = 0
                }
                if stopping.load(ordering: .acquiring) { return }
                seen = ticket.load(ordering: .acquiring) >> 42
                while let job = takeJob() {
                    runJob(job)
                    finished.add(1, ordering: .releasing)
                }
            }
        }

        func stop() {
            stopping.store(true, ordering: .sequentiallyConsistent)
            ticket.store(((1 << 20) | 0) << 42, ordering: .sequentiallyConsistent)  // a generation no call uses
            for sleeper in sleepers where sleeper.asleep.exchange(false, ordering: .sequentiallyConsistent) {
                sleeper.wake.signal()
            }
        }
    }
}
