import Foundation
import Testing
import WeightsCore

/// The huge-page chunks that a container's tensors are decompressed into, and the large
/// allocations of `ByteStorage.allocate`.
@Suite struct ByteArenaTests {
    /// The bytes of `storage`, copied out.
    static func bytes(_ storage: ByteStorage) -> [UInt8] {
        unsafe storage.withUnsafeBytes { unsafe Array($0) }
    }

    @Test("Buffers are zero until filled, disjoint, 64-byte aligned, and outlive the arena")
    func buffersAreTheirOwn() throws {
        var storages: [ByteStorage] = []
        do {
            let arena = ByteArena()
            // Sizes that fill several chunks, with odd ends; each buffer records its index.
            for (index, count) in [1, 63, 64, 65, 4096, 1 << 20, 3 << 20, (4 << 20) - 1, 5 << 20, 7].enumerated() {
                let storage = unsafe arena.allocate(count: count) { buffer in
                    #expect(buffer.count == count)
                    #expect(unsafe buffer.allSatisfy { $0 == 0 }, "fresh bytes are zero")
                    unsafe buffer.initializeMemory(as: UInt8.self, repeating: UInt8(index + 1))
                }
                storages.append(storage)
            }
        }
        // The arena is gone; every buffer still holds what was written into it, nothing else.
        for (index, storage) in storages.enumerated() {
            #expect(Self.bytes(storage).allSatisfy { $0 == UInt8(index + 1) }, "buffer \(index)")
            let address = unsafe storage.withUnsafeBytes { Int(bitPattern: $0.baseAddress) }
            #expect(address % 64 == 0, "buffer \(index) at \(address)")
        }
    }

    @Test("A throwing fill leaves nothing behind, and the next buffer is still zero")
    func throwingFill() throws {
        struct Failure: Error {}
        let arena = ByteArena()
        #expect(throws: Failure.self) {
            _ = unsafe try arena.allocate(count: 1000) { buffer in
                unsafe buffer.initializeMemory(as: UInt8.self, repeating: 0xFF)
                throw Failure()
            }
        }
        let next = unsafe arena.allocate(count: 1000) { buffer in #expect(unsafe buffer.allSatisfy { $0 == 0 }) }
        #expect(Self.bytes(next) == [UInt8](repeating: 0, count: 1000))
    }

    @Test("Threads carve buffers at once without sharing a byte")
    func concurrentCarving() throws {
        let arena = ByteArena()
        let results = LockedStorages()
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            let storage = unsafe arena.allocate(count: 200_000 + index) { buffer in
                unsafe buffer.initializeMemory(as: UInt8.self, repeating: UInt8(index))
            }
            results.append(index, storage)
        }
        for (index, storage) in results.all() {
            let bytes = Self.bytes(storage)
            #expect(bytes.count == 200_000 + index && bytes.allSatisfy { $0 == UInt8(index) }, "buffer \(index)")
        }
    }

    @Test("ByteStorage.allocate maps large buffers of its own, zeroed or filled")
    func largeAllocations() throws {
        let count = ByteStorage.largeAllocation + 12_345
        let zero = unsafe ByteStorage.allocate(count: count) { buffer in #expect(unsafe buffer.allSatisfy { $0 == 0 }) }
        #expect(Self.bytes(zero).count == count)
        let filled = ByteStorage.copy(of: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        #expect(Self.bytes(filled) == (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) })
    }
}

/// (index, storage) pairs appended from several threads.
private final class LockedStorages: @unchecked Sendable {
    private let lock = NSLock()
    private var pairs: [(Int, ByteStorage)] = []
    func append(_ index: Int, _ storage: ByteStorage) { lock.withLock { pairs.append((index, storage)) } }
    func all() -> [(Int, ByteStorage)] { lock.withLock { pairs } }
}
