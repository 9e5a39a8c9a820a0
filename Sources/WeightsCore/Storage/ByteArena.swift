import WeightsPlatform

/// Owned buffers for many mid-sized tensors, carved one after another out of a few large
/// mappings advised for transparent huge pages.
///
/// A model loaded from a compressed container decompresses a hundred tensors of 1–4 MB into
/// fresh memory. Allocated one by one, each faults in a 4 KiB page at a time (on the virtual
/// machines measured, 1–3 µs a page: 25–30 ms of kernel time for all-MiniLM-L6-v2's 90 MB);
/// carved from 32 MiB chunks that the kernel backs with 2 MiB pages where it grants them, they
/// fault in a few dozen times. Tensors from ``ByteStorage/largeAllocation`` up get a mapping of
/// their own from ``ByteStorage/allocate(count:zeroed:initialize:)`` instead.
///
/// Each buffer is a ``ByteStorage`` of its own: zero until `initialize` fills it, immutable
/// after. It keeps its chunk mapped; a chunk is unmapped once the arena has moved on from it and
/// every buffer carved from it is gone. Space is never reused (a load's tensors live and die
/// together), and the unused end of a chunk is never touched, so it costs no memory.
///
/// ```swift
/// let arena = ByteArena()
/// let storage = arena.allocate(count: 1 << 20) { buffer in buffer.copyBytes(from: bytes) }
/// ```
package final class ByteArena: Sendable {
    /// The size of each chunk: 16 huge pages.
    package static let chunkSize = 32 << 20

    /// One mapping, unmapped when the last reference to it goes.
    @safe  // Safety: owns the mapping (unmapped at deinit, once); only the arena reads `base`.
    private final class Chunk: Sendable {
        // Safety: the mapping's address, written once at init; the memory is reached only
        // through the buffers carved from it, each written by one `initialize` call.
        nonisolated(unsafe) let base: UnsafeMutableRawPointer
        let mapped: Int

        init(base: UnsafeMutableRawPointer, mapped: Int) {
            unsafe self.base = base  // Safety: a fresh mapping of `mapped` bytes, owned from here.
            self.mapped = mapped
        }

        deinit { unsafe weights_release_large(base, mapped) }  // Safety: the last reference is gone.
    }

    /// The chunk being carved and the bytes of it handed out.
    private let current = LockedValue<(chunk: Chunk, used: Int)?>(nil)

    package init() {}

    /// A new buffer of `count` bytes, zero until `initialize` fills it, from the current
    /// chunk (or a new one); a buffer of its own, from
    /// ``ByteStorage/allocate(count:zeroed:initialize:)``, when `count` is
    /// ``ByteStorage/largeAllocation`` or more, or the system gives no such mapping.
    ///
    /// - Complexity: O(1) besides `initialize`; safe to call from several threads at once.
    package func allocate(count: Int, initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> ByteStorage {
        guard count > 0, count < ByteStorage.largeAllocation, let (chunk, offset) = carve(count) else {
            // Sound: `initialize` gets the new buffer alone, as it does here.
            return unsafe try ByteStorage.allocate(count: count, initialize: initialize)
        }
        // Safety: `offset..<offset + count` lies in the chunk's mapping (carve checks it) and
        // was handed out to this call alone; the storage's release keeps the chunk alive until
        // the storage is gone. On a throw the bytes are left unused, never handed out again.
        let buffer = unsafe UnsafeMutableRawBufferPointer(start: chunk.base + offset, count: count)
        unsafe try initialize(buffer)
        return unsafe ByteStorage.owning(UnsafeRawBufferPointer(buffer)) { _ in withExtendedLifetime(chunk) {} }
    }

    /// The chunk and offset of `count` fresh bytes, 64-byte aligned, or `nil` when no chunk can
    /// be mapped.
    private func carve(_ count: Int) -> (Chunk, Int)? {
        let size = (count + 63) & ~63
        return current.withLock { state in
            if let (chunk, used) = state, size <= chunk.mapped - used {
                state = (chunk, used + size)
                return (chunk, used)
            }
            var mapped = 0
            // Sound: the call maps fresh memory and reports its length; nothing else sees it.
            guard let base = unsafe weights_allocate_large(Self.chunkSize, &mapped) else { return nil }
            let chunk = unsafe Chunk(base: base, mapped: mapped)
            state = (chunk, size)
            return (chunk, 0)
        }
    }
}
