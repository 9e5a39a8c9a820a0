import Foundation
import Testing
import Weights
import WeightsPlatform

/// The compressor's writer: chunks delivered in any order, from any thread, land in order.
@Suite struct OrderedFrameWriterTests {
    struct Stop: Error {}

    /// Chunk `index`'s frames in these tests: its index repeated, `index % 7 + 1` times, as
    /// two "frames".
    static func frames(_ index: Int) -> (bytes: [UInt8], sizes: [Int]) {
        let length = index % 7 + 1
        return ([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: length), [1, length - 1])
    }

    @Test("chunks delivered out of order on several threads are written in order", arguments: [1, 3, 64])
    func writesInOrder(window: Int) throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = try AtomicFile(path: directory + "/frames", syncToDisk: false)
        let chunks = 500
        let reports = LockedValue<[Int]>([])
        let writer = OrderedFrameWriter(out, chunks: chunks, window: window, total: chunks * 10, checkUnchanged: {},
                                        progress: { done, total in reports.withLock { $0.append(done) }; #expect(total == 5000) })
        // 4 threads take the chunks in order, as the compressor's do, and finish them out of
        // order: each "compresses" for a time that varies from chunk to chunk.
        let next = LockedValue(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            while true {
                let index = next.withLock { value -> Int in defer { value += 1 }; return value }
                guard index < chunks else { return }
                usleep(UInt32((index * 7919) % 13) * 50)
                let (bytes, sizes) = Self.frames(index)
                #expect(throws: Never.self) { try writer.deliver(index, frames: bytes, sizes: sizes, bytes: 10) }
            }
        }
        let sizes = try writer.finish()
        try out.commit()
        #expect(sizes == (0..<chunks).flatMap { Self.frames($0).sizes })
        #expect(try CompressFixtures.read(directory + "/frames") == (0..<chunks).flatMap { Self.frames($0).bytes })
        #expect(reports.withLock { $0 } == Array(stride(from: 10, through: 5000, by: 10)))
    }

    @Test("a failing check stops the run: that delivery, later ones and finish throw")
    func failingCheck() throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = try AtomicFile(path: directory + "/frames", syncToDisk: false)
        let writer = OrderedFrameWriter(out, chunks: 8, window: 2, total: 8, checkUnchanged: { throw Stop() }, progress: nil)
        try writer.deliver(0, frames: [0], sizes: [1], bytes: 1)
        #expect(throws: Stop.self) { try writer.deliver(1, frames: [1], sizes: [1], bytes: 1) }  // the check after 2 chunks
        #expect(throws: Stop.self) { try writer.deliver(2, frames: [2], sizes: [1], bytes: 1) }
        #expect(throws: Stop.self) { try writer.finish() }
    }

    @Test("a thread waiting on a full window stops when the run fails")
    func failureWakesAWaitingThread() throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = try AtomicFile(path: directory + "/frames", syncToDisk: false)
        let writer = OrderedFrameWriter(out, chunks: 4, window: 1, total: 4, checkUnchanged: {}, progress: nil)
        let thrown = LockedValue<Bool?>(nil)
        let waiter = Thread {
            // Chunk 0 never comes: with a window of 1 this delivery waits.
            do { try writer.deliver(1, frames: [1], sizes: [1], bytes: 1); thrown.withLock { $0 = false } }
            catch { thrown.withLock { $0 = error is Stop } }
        }
        waiter.start()
        usleep(20_000)
        #expect(thrown.withLock { $0 } == nil, "the delivery waits for chunk 0")
        writer.fail(Stop())
        for _ in 0..<1000 where thrown.withLock({ $0 }) == nil { usleep(1000) }
        #expect(thrown.withLock { $0 } == true)
    }
}
