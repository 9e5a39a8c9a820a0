import WeightsCore
import WeightsIntegrity

import WeightsPlatform

/// Restores a container's tensor bytes into a file, with decompression, verification and
/// writing overlapped on every thread.
///
/// Each thread takes the next chunk and decompresses it straight into its place in the file,
/// mapped shared and writable (see `OutputMapping`), then hashes it from there; where the file
/// can't be mapped, into a buffer of a small pool that it then writes at its place
/// (`pwrite`). Chunks go in order within each tensor, with the
/// tensors interleaved in proportion to their sizes. A tensor's SHA-256 is sequential,
/// so it runs over the tensor's chunks in order, by whichever thread finds the next one ready
/// while no other thread hashes that tensor: small tensors hash side by side, and a large
/// tensor hashes on one thread while the others decompress its later chunks. A thread always
/// prefers hashing work, which frees buffers, to starting a new chunk.
///
/// Memory: the pool (when writing with `pwrite`), a few chunks per thread, whatever the file's
/// size.
@safe  // Safety: owns the pool and the hashers its pointers address (allocated at init, freed at deinit); each slot, and each chunk's range of the mapping, is used by one thread at a time, handed over under the lock.
final class RestorePipeline: @unchecked Sendable {
    /// One chunk to restore: its tensor's position and its position in the tensor.
    private struct Job {
        var tensor: Int
        var chunk: Int
    }

    /// What the threads share, under ``state``'s lock.
    private struct State {
        var nextJob = 0
        /// Pool slots not holding a chunk. With a mapping there is no pool: the slots then only
        /// bound the chunks decompressed ahead of their hash, which should still be in cache.
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
        /// When syncing through a mapping: per ``OutputMapping/writebackBlock`` of the file, its
        /// bytes not yet written. A block is sent to the disk when the last of them is.
        var unwritten: [Int] = []
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
    private let mapping: OutputMapping?
    private let verify: Bool
    private let jobs: [Job]
    private let chunkSize: Int
    private let pool: UnsafeMutableRawBufferPointer
    private let hashers: UnsafeMutableBufferPointer<SHA256Digest.Hasher>
    private let state: LockedValue<State>

    /// Prepares to restore every tensor of `file` into `out`, each at its offset in the
    /// original file, on up to `threads` threads: through `mapping`, a mapping of `out`, when
    /// given, else with positioned writes.
    /// `prefixCount`: the bytes before the first tensor, already written.
    init(file: CompressedFile, out: AtomicFile, mapping: OutputMapping?, prefixCount: Int, verify: Bool, threads: Int) {
        self.file = file
        self.out = out
        self.mapping = mapping
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
        // Sound: the pool (a chunk per slot) and the hashers (one per tensor, initialized here)
        // are this object's alone; deinit deinitializes and frees them once.
        unsafe pool = .allocate(byteCount: mapping == nil ? slots * file.chunkSize : 0, alignment: 64)
        let count = file.compressedTensors.count
        unsafe hashers = .allocate(capacity: max(count, 1))
        unsafe hashers.initialize(repeating: SHA256Digest.Hasher())
        var initial = State(free: Array((0..<slots).reversed()), nextToHash: Array(repeating: 0, count: count),
                            hashing: Array(repeating: false, count: count), ready: Array(repeating: [:], count: count))
        if let mapping, mapping.syncs {
            let block = OutputMapping.writebackBlock, size = file.originalSize
            initial.unwritten = (0..<(size + block - 1) / block).map { min(block, size - $0 * block) }
            // The prefix's blocks wait for the tensors after them; one of prefix alone (a header
            // over 2 MiB) is left to the final fsync.
            _ = Self.markWritten(0..<prefixCount, in: &initial.unwritten)
        }
        state = LockedValue(initial)
    }

    /// Counts `range` of the file as written; returns the blocks it completed, as a range of
    /// the file, or `nil`. They are consecutive: the blocks strictly inside `range` complete
    /// with it, so only its first and last can be left incomplete.
    private static func markWritten(_ range: Range<Int>, in unwritten: inout [Int]) -> Range<Int>? {
        guard !unwritten.isEmpty, !range.isEmpty else { return nil }
        let block = OutputMapping.writebackBlock
        var completed: Range<Int>?
        for index in range.lowerBound / block...(range.upperBound - 1) / block {
            let overlap = min(range.upperBound, (index + 1) * block) - max(range.lowerBound, index * block)
            unwritten[index] -= overlap
            if unwritten[index] == 0 {
                let blockRange = index * block..<(index + 1) * block
                completed = completed.map { $0.lowerBound..<blockRange.upperBound } ?? blockRange
            }
        }
        return completed
    }

    deinit {
        // Sound: the last use; no thread runs once `run` has returned.
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
                // Sound: `buffer` is this chunk's place, held by this thread alone (handed out
                // under the lock); `decode` writes exactly its bytes, then `write` reads them.
                let entry = file.compressedTensors[job.tensor]
                let range = file.chunkRange(job.chunk, of: entry)
                let place = entry.fileOffset + range.lowerBound..<entry.fileOffset + range.upperBound
                let buffer = unsafe bytes(place, slot: slot)
                mapping?.prepare(place)
                unsafe try file.decode(entry, chunk: job.chunk, into: buffer, using: decompressor)
                if mapping == nil { unsafe try out.write(UnsafeRawBufferPointer(buffer), at: place.lowerBound) }
                if let blocks = decoded(job, place: place, slot: slot, bytes: range.count, progress: progress) {
                    mapping?.startWriteback(blocks)
                }
            case .hash(let tensor, let chunk, let slot):
                // Sound: as for `decode`; `tensor` < the hashers' count, one per tensor.
                let entry = file.compressedTensors[tensor]
                let range = file.chunkRange(chunk, of: entry)
                let count = range.count
                let buffer = unsafe bytes(entry.fileOffset + range.lowerBound..<entry.fileOffset + range.upperBound, slot: slot)
                // This thread alone holds the tensor's hasher until it hands the tensor back.
                unsafe hashers[tensor].update(UnsafeRawBufferPointer(buffer))
                if chunk + 1 == entry.chunkCount { try checkDigest(tensor) }
                hashed(tensor, slot: slot, bytes: count, progress: progress)
            }
        }
    }

    /// Where the chunk at `place` in the file goes: its place in the mapping, or pool slot `slot`.
    private func bytes(_ place: Range<Int>, slot: Int) -> UnsafeMutableRawBufferPointer {
        if let mapping {
            // Safety: `place` lies inside the mapping, which is the whole file; the caller holds
            // the chunk (decompressing or hashing it) alone, handed over under the lock.
            return unsafe UnsafeMutableRawBufferPointer(rebasing: mapping.bytes[place])
        }
        // Sound: `slot` < the pool's slots, and a chunk is at most `chunkSize` bytes.
        return unsafe UnsafeMutableRawBufferPointer(rebasing: pool[slot * chunkSize..<slot * chunkSize + place.count])
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

    /// Records a chunk decompressed (and written); returns the stretch of the file it completed
    /// for writeback, if any.
    private func decoded(_ job: Job, place: Range<Int>, slot: Int, bytes: Int, progress: (Int) -> Void) -> Range<Int>? {
        state.withLock { state in
            let completed = Self.markWritten(place, in: &state.unwritten)
            guard verify else {
                state.free.append(slot)
                finish(&state, bytes: bytes, progress: progress)
                return completed
            }
            state.ready[job.tensor][job.chunk] = slot
            if job.chunk == state.nextToHash[job.tensor], !state.hashing[job.tensor] { state.hashable.append(job.tensor) }
            return completed
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
        let digest = unsafe Hex.string(hashers[tensor].finalize())  // Sound: this thread holds the tensor's hasher (see `work`).
        guard digest == entry.sha256 else {
            throw WeightsError(.corruptData, "tensor '\(entry.name)' fails its SHA-256 check: \(digest), expected \(entry.sha256)",
                               file: file.path, tensor: entry.name)
        }
    }
}
