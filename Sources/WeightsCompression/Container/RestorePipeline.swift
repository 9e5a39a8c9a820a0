import WeightsCore
import WeightsIntegrity

import WeightsPlatform

/// Restores a container's tensor bytes into a file, with decompression, verification and
/// writing overlapped on every thread.
///
/// Each thread takes the next chunk, decompresses it into a buffer of a small pool and writes
/// it at its place in the file (`pwrite`). Chunks go in order within each tensor, with the
/// tensors interleaved in proportion to their sizes. A tensor's SHA-256 is sequential,
/// so it runs over the tensor's chunks in order, by whichever thread finds the next one ready
/// while no other thread hashes that tensor: small tensors hash side by side, and a large
/// tensor hashes on one thread while the others decompress its later chunks. A thread always
/// prefers hashing work, which frees buffers, to starting a new chunk.
///
/// Memory: the pool, a few chunks per thread, whatever the file's size.
@safe  // Safety: owns the pool and the hashers its pointers address (allocated at init, freed at deinit); each slot is used by one thread at a time, handed over under the lock.
final class RestorePipeline: @unchecked Sendable {
    /// One chunk to restore: its tensor's position and its position in the tensor.
    private struct Job {
        var tensor: Int
        var chunk: Int
    }

    /// What the threads share, under ``state``'s lock.
    private struct State {
        var nextJob = 0
        /// Pool slots not holding a chunk.
        var free: [Int]
        /// Per tensor: the next chunk its hash needs, whether a thread is hashing it, and its
        /// chunks decompressed but not yet hashed (chunk → slot).
        var nextToHash: [Int]
        var hashing: [Bool]
        var ready: [[Int: Int]]
        /// Tensors whose next chunk is ready and that no thread is hashing.
        var hashable: [Int] = []
        /// Chunks fully done: written, and hashed when verifying.
        var finished = 0
        /// Original bytes fully done.
        var bytesDone = 0
        var failure: (any Error)?
    }

    /// What a thread does next.
    private enum Step {
        case decode(Job, slot: Int)
        case hash(tensor: Int, chunk: Int, slot: Int)
        case wait
        case stop
    }

    private let file: CompressedFile
    private let out: AtomicFile
    private let verify: Bool
    private let jobs: [Job]
    private let chunkSize: Int
    private let pool: UnsafeMutableRawBufferPointer
    private let hashers: UnsafeMutableBufferPointer<SHA256Digest.Hasher>
    private let state: LockedValue<State>

    /// Prepares to restore every tensor of `file` into `out`, each at its offset in the
    /// original file, on up to `threads` threads.
    init(file: CompressedFile, out: AtomicFile, verify: Bool, threads: Int) {
        self.file = file
        self.out = out
        self.verify = verify
        chunkSize = file.chunkSize
        var jobs: [Job] = []
        for (position, entry) in file.compressedTensors.enumerated() {
            for chunk in 0..<entry.chunkCount { jobs.append(Job(tensor: position, chunk: chunk)) }
        }
        // Each tensor's chunks spread evenly through the run (ordered by how far into its
        // tensor a chunk is), rather than tensor after tensor: the chunk before a chunk's is
        // then almost always hashed by the time it is decompressed, so the thread that
        // decompressed it hashes it at once, from its cache, and many tensors hash side by
        // side instead of one long tensor on one thread. Writes land out of order, at their offsets.
        jobs.sort { a, b in
            let left = (a.chunk + 1) * file.compressedTensors[b.tensor].chunkCount
            let right = (b.chunk + 1) * file.compressedTensors[a.tensor].chunkCount
            return left != right ? left < right : a.tensor < b.tensor
        }
        self.jobs = jobs
        // Enough buffers that a thread rarely waits for one while another hashes a long tensor.
        let slots = max(1, min(jobs.count, threads * 4))
        unsafe pool = .allocate(byteCount: slots * file.chunkSize, alignment: 64)
        let count = file.compressedTensors.count
        unsafe hashers = .allocate(capacity: max(count, 1))
        unsafe hashers.initialize(repeating: SHA256Digest.Hasher())
        state = LockedValue(State(free: Array((0..<slots).reversed()), nextToHash: Array(repeating: 0, count: count),
                            hashing: Array(repeating: false, count: count), ready: Array(repeating: [:], count: count)))
    }

    deinit {
        unsafe hashers.deinitialize().deallocate()
        unsafe pool.deallocate()
    }

    /// Restores every chunk; `progress` gets the original bytes done so far (serialized).
    ///
    /// - Throws: the first error: a damaged chunk, a failed digest, a failed write.
    func run(threads: Int, progress: (Int) -> Void) throws {
        let workers = max(1, min(threads, jobs.count))
        try ParallelChunks.run(jobs: workers, threads: workers, state: { try file.lendDecompressor() }) { lease, _ in
            do {
                try work(lease.decompressor, progress: progress)
            } catch {
                state.withLock { if $0.failure == nil { $0.failure = error } }
            }
        }
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    /// One thread's loop: hash what is ready, else decompress the next chunk, until all is done.
    private func work(_ decompressor: ChunkDecompressor, progress: (Int) -> Void) throws {
        while true {
            switch next() {
            case .stop:
                return
            case .wait:
                // Another thread holds the only work left (hashing a tensor, or the last chunks).
                _ = usleep(50)
            case .decode(let job, let slot):
                let entry = file.compressedTensors[job.tensor]
                let range = file.chunkRange(job.chunk, of: entry)
                let buffer = unsafe UnsafeMutableRawBufferPointer(rebasing: pool[slot * chunkSize..<slot * chunkSize + range.count])
                unsafe try file.decode(entry, chunk: job.chunk, into: buffer, using: decompressor)
                unsafe try out.write(UnsafeRawBufferPointer(buffer), at: entry.fileOffset + range.lowerBound)
                decoded(job, slot: slot, bytes: range.count, progress: progress)
            case .hash(let tensor, let chunk, let slot):
                let entry = file.compressedTensors[tensor]
                let count = file.chunkRange(chunk, of: entry).count
                // This thread alone holds the tensor's hasher until it hands the tensor back.
                unsafe hashers[tensor].update(UnsafeRawBufferPointer(rebasing: pool[slot * chunkSize..<slot * chunkSize + count]))
                if chunk + 1 == entry.chunkCount { try checkDigest(tensor) }
                hashed(tensor, slot: slot, bytes: count, progress: progress)
            }
        }
    }

    private func next() -> Step {
        state.withLock { state in
            if state.failure != nil || state.finished == jobs.count { return .stop }
            if let tensor = state.hashable.popLast() {
                let chunk = state.nextToHash[tensor]
                state.hashing[tensor] = true
                return .hash(tensor: tensor, chunk: chunk, slot: state.ready[tensor].removeValue(forKey: chunk)!)
            }
            if state.nextJob < jobs.count, let slot = state.free.popLast() {
                defer { state.nextJob += 1 }
                return .decode(jobs[state.nextJob], slot: slot)
            }
            return .wait
        }
    }

    private func decoded(_ job: Job, slot: Int, bytes: Int, progress: (Int) -> Void) {
        state.withLock { state in
            guard verify else {
                state.free.append(slot)
                finish(&state, bytes: bytes, progress: progress)
                return
            }
            state.ready[job.tensor][job.chunk] = slot
            if job.chunk == state.nextToHash[job.tensor], !state.hashing[job.tensor] { state.hashable.append(job.tensor) }
        }
    }

    private func hashed(_ tensor: Int, slot: Int, bytes: Int, progress: (Int) -> Void) {
        state.withLock { state in
            state.free.append(slot)
            state.hashing[tensor] = false
            state.nextToHash[tensor] += 1
            if state.ready[tensor][state.nextToHash[tensor]] != nil { state.hashable.append(tensor) }
            finish(&state, bytes: bytes, progress: progress)
        }
    }

    private func finish(_ state: inout State, bytes: Int, progress: (Int) -> Void) {
        state.finished += 1
        state.bytesDone += bytes
        progress(state.bytesDone)
    }

    private func checkDigest(_ tensor: Int) throws {
        let entry = file.compressedTensors[tensor]
        let digest = unsafe Hex.string(hashers[tensor].finalize())
        guard digest == entry.sha256 else {
            throw WeightsError(.corruptData, "tensor '\(entry.name)' fails its SHA-256 check: \(digest), expected \(entry.sha256)",
                               file: file.path, tensor: entry.name)
        }
    }
}
