import WeightsPlatform

/// An ``AtomicFile``'s temporary file, sized in advance, its blocks reserved, and mapped shared
/// and writable: writers put their bytes straight into the file's pages, with no buffer to
/// copy from and no `pwrite(2)`, which on Linux takes the inode's lock and so runs one thread
/// at a time.
///
/// Made by ``AtomicFile/mapForWriting(count:reserve:)``. The blocks are allocated before the
/// mapping exists, so a store into it cannot meet a full disk (on Linux an unbacked store into
/// a shared file mapping is SIGBUS). A page the kernel still can't provide (an I/O error) is
/// caught by the package's SIGBUS guard: the store goes to anonymous memory instead, and
/// ``checkWrites()`` throws `io` naming the file. Call it after the last store and before
/// ``AtomicFile/commit()``; the mapping must go away (last reference dropped) before the
/// commit closes the file. Disjoint ranges may be written from several threads at once.
///
/// Durability: the mapping's pages are the file's page cache, so ``AtomicFile/commit()``'s
/// `fsync(2)` writes them with the rest of the file; ``startWriteback(_:)`` starts that early.
@safe  // Safety: owns the mapping its pointer addresses (mapped at init, unmapped at deinit), and registers it with the SIGBUS guard for its whole life.
package final class OutputMapping: @unchecked Sendable {
    /// The file's bytes. Valid while this object lives; writable from several threads for
    /// disjoint ranges.
    @unsafe package let bytes: UnsafeMutableRawBufferPointer
    /// The destination path, for errors.
    package let path: String
    private let fd: Int32
    private let guardSlot: Int32
    private let syncToDisk: Bool
    /// Whether `MADV_POPULATE_WRITE` works here; cleared at its first refusal.
    private let populates = LockedValue(true)

    /// Maps `count` bytes of `fd`, which already holds them (reserved); `nil` when the system
    /// refuses the mapping or the guard can't cover it (the caller then writes with `pwrite`).
    init?(fd: Int32, count: Int, path: String, syncToDisk: Bool) {
        guard count > 0, weights_guard_install_for_writes() == 0 else { return nil }
        // Sound: the mapping is `count` bytes of `fd` (which holds them, reserved), owned by
        // this object from here: registered with the guard, and unmapped once, at deinit (or
        // at once when the registration fails).
        let address = unsafe mmap(nil, count, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let address = unsafe address, unsafe address != MAP_FAILED else { return nil }
        let slot = unsafe weights_guard_register_writable(address, count)
        guard slot >= 0 else {
            _ = unsafe munmap(address, count)
            return nil
        }
        // Lets the kernel give the file 2 MiB page-cache folios where its filesystem can (ext4
        // on Linux 6.16 and later, among others), so a store faults in 2 MiB at a time rather
        // than 4 KiB: restoring MiniLM (90 MB, --no-sync) took 229 ms of CPU this way, against
        // 356 ms with 4 KiB pages and 273 ms with pwrite (medians of 7, side by side). Only a
        // hint; ignored elsewhere.
        // Sound: advice over the mapping just made; it changes no byte.
        _ = unsafe madvise(address, count, MADV_HUGEPAGE)
        unsafe bytes = UnsafeMutableRawBufferPointer(start: address, count: count)
        self.fd = fd
        self.guardSlot = slot
        self.path = path
        self.syncToDisk = syncToDisk
    }

    deinit {
        weights_guard_unregister(guardSlot)
        _ = unsafe munmap(bytes.baseAddress, bytes.count)  // Sound: the last use; the mapping is this object's.
    }

    /// Faults in the pages of `range` for writing in one system call, before they are written
    /// (`MADV_POPULATE_WRITE`, Linux 5.14 and later): cheaper than a fault per page, and done
    /// by the thread about to write them. A no-op where the system lacks it.
    ///
    /// - Complexity: O(range) page allocations, in the kernel.
    package func prepare(_ range: Range<Int>) {
        guard populates.withLock({ $0 }), let (start, length) = pages(range) else { return }
        // Safety: the pages lie inside the mapping; the advice writes no byte of them.
        if unsafe weights_populate_write(bytes.baseAddress! + start, length) != 0, errno == EINVAL {
            populates.withLock { $0 = false }
        }
        // Any other failure (EFAULT: a page the kernel can't provide) shows again, and is
        // caught by the guard, when the bytes are written.
    }

    /// Whether ``startWriteback(_:)`` does anything: the file is to be synced.
    package var syncs: Bool { syncToDisk }

    /// The stretch of the file that ``startWriteback(_:)`` is best given whole: a large page-cache
    /// folio. A folio sent to the disk before all its bytes are written is written again once
    /// they are.
    package static let writebackBlock = 2 << 20

    /// Starts writing `range` to the disk without waiting, when the file is to be synced:
    /// the disk then works while the rest is written, and the final `fsync` has less to wait for.
    package func startWriteback(_ range: Range<Int>) {
        guard syncToDisk, !range.isEmpty else { return }
        _ = weights_start_writeback(fd, Int64(range.lowerBound), Int64(range.count))
    }

    /// Checks that every store into the mapping reached the file.
    ///
    /// - Throws: `io` naming the file when a page of it could not be provided (the stores to it
    ///   and to the rest of the mapping went to anonymous memory instead).
    package func checkWrites() throws {
        if weights_guard_faulted(guardSlot) != 0 {
            throw WeightsError(.io, "cannot write through the file's mapping: a page of it could not be provided (I/O error, or no space)",
                               file: path)
        }
    }

    /// `range` widened to whole pages and clipped to the mapping: (offset, length), or `nil`.
    private func pages(_ range: Range<Int>) -> (Int, Int)? {
        let pageSize = Self.pageSize
        let start = max(range.lowerBound, 0) & ~(pageSize - 1)
        // Sound: reads the count only.
        let end = unsafe min((range.upperBound + pageSize - 1) & ~(pageSize - 1), bytes.count)
        return end > start ? (start, end - start) : nil
    }

    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
}
