/// One slot per result, written by parallel workers that each own distinct indices.
@safe  // Safety: owns the memory its pointers address (allocated at init, freed at deinit), and no pointer leaves its methods.
final class ResultSlots<Element>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Element>
    /// The number of slots.
    let count: Int

    init(count: Int, initial: Element) {
        self.count = count
        // Sound: every slot is initialized here, before any read, and deinitialized only in deinit.
        unsafe slots = .allocate(capacity: count)
        unsafe slots.initialize(repeating: initial)
    }

    deinit {
        // Sound: the slots were initialized in init, and nothing can use them after deinit.
        unsafe slots.deinitialize()
        unsafe slots.deallocate()
    }

    /// Safe from several threads as long as no two touch the same index.
    ///
    /// - Precondition: `0 <= index < count` (checked: the buffer's own subscript checks only
    ///   in debug builds).
    subscript(index: Int) -> Element {
        get {
            precondition(index >= 0 && index < count, "ResultSlots: index \(index) out of range")
            return unsafe slots[index]  // Sound: the index was checked just above.
        }
        set {
            precondition(index >= 0 && index < count, "ResultSlots: index \(index) out of range")
            unsafe slots[index] = newValue  // Sound: the index was checked just above.
        }
    }

    var array: [Element] { unsafe Array(slots) }  // Sound: copies the initialized slots while self holds them.
}
