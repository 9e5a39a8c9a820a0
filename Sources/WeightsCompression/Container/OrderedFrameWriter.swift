import WeightsCore
import WeightsPlatform

/// Writes chunks' frames to a container in chunk order, while threads compress them in any
/// order.
///
/// Threads take the chunks in order and compress them; a thread that has compressed one hands
/// its frames over with ``deliver(_:frames:sizes:bytes:)`` and goes on to the next chunk. Whichever thread finds the next chunk to write ready, while
/// no other thread is writing, writes it, and every ready chunk after it, outside the lock:
/// compression never stops for a write, and the file is written by one thread at a time. A
/// thread that would leave more than `window` chunks waiting waits instead, so memory stays
/// bounded whatever the file's size.
///
/// ```swift
/// let writer = OrderedFrameWriter(out, chunks: jobs.count, window: 8, ...)
/// // on each thread, for each chunk it compressed:
/// try writer.deliver(chunk, frames: bytes, sizes: sizes, bytes: chunkLength)
/// let frameSizes = try writer.finish()
/// ```
package final class OrderedFrameWriter: @unchecked Sendable {
    /// A compressed chunk: its frames end to end, their sizes, and its original length.
    private typealias Chunk = (frames: [UInt8], sizes: [Int], bytes: Int)

    /// What a delivering thread does next.
    private enum Step {
        case write(index: Int, Chunk)
        case wait
        case leave
    }

    /// What the threads share, under ``state``'s lock.
    private struct State {
        var nextToWrite = 0
        /// Chunks compressed and not yet written.
        var waiting: [Int: Chunk] = [:]
        var writing = false
        var frameSizes: [Int] = []
        var bytesDone = 0
        var failure: (any Error)?
    }

    private let state = LockedValue(State())
    // Used by the thread that holds `writing`, one at a time.
    private let out: AtomicFile
    private let chunks: Int
    private let window: Int
    private let total: Int
    private let checkUnchanged: () throws -> Void
    private let progress: CompressedWriter.Progress?

    /// A writer of `chunks` chunks (`total` original bytes) to `out`, holding at most `window`
    /// chunks that wait for an earlier one; `checkUnchanged` runs every `window` chunks
    /// written, and `progress` after each.
    package init(_ out: AtomicFile, chunks: Int, window: Int, total: Int,
         checkUnchanged: @escaping () throws -> Void, progress: CompressedWriter.Progress?) {
        self.out = out
        self.chunks = chunks
        self.window = max(1, window)
        self.total = total
        self.checkUnchanged = checkUnchanged
        self.progress = progress
    }

    /// Hands over chunk `chunk`'s frames (end to end), their sizes and the chunk's original
    /// length; writes it and the ready chunks after it when it is the next one and no thread
    /// is writing. Waits while `window` chunks wait for an earlier one: chunks must be taken
    /// in order, so that the earliest one missing is always on its way from another thread.
    ///
    /// - Throws: the first error that a write, `checkUnchanged` or ``fail(_:)`` recorded.
    package func deliver(_ chunk: Int, frames: [UInt8], sizes: [Int], bytes: Int) throws {
        state.withLock { $0.waiting[chunk] = (frames, sizes, bytes) }
        while true {
            let step = try state.withLock { state throws -> Step in
                if let failure = state.failure { throw failure }
                if !state.writing, let ready = state.waiting.removeValue(forKey: state.nextToWrite) {
                    state.writing = true
                    return .write(index: state.nextToWrite, ready)
                }
                // Another thread writes, or the next chunk is still being compressed.
                return state.waiting.count >= window ? .wait : .leave
            }
            guard case .write(let index, let ready) = step else {
                if case .wait = step { _ = usleep(50); continue }
                return
            }
            do {
                try out.write(ready.frames)
                if (index + 1) % window == 0 { try checkUnchanged() }
            } catch {
                fail(error)
                throw error
            }
            let done = state.withLock { state -> Int in
                state.frameSizes += ready.sizes
                state.bytesDone += ready.bytes
                state.nextToWrite += 1
                return state.bytesDone
            }
            // Still the writer, so reports come one at a time and in order.
            progress?(done, total)
            state.withLock { $0.writing = false }
        }
    }

    /// Records `error` as the run's failure: waiting threads stop, and later deliveries throw it.
    package func fail(_ error: any Error) {
        state.withLock { if $0.failure == nil { $0.failure = error } }
    }

    /// Every frame's size, in file order, once every chunk has been written.
    package func finish() throws -> [Int] {
        try state.withLock { state in
            if let failure = state.failure { throw failure }
            precondition(state.nextToWrite == chunks && state.waiting.isEmpty, "chunks left unwritten")
            return state.frameSizes
        }
    }
}
