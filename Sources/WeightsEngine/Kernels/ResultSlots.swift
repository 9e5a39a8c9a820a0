/// One slot per result, written by parallel workers that each own distinct indices.
@safe  // Safety: owns the memory its pointers address (allocated at init, freed at deinit), and no pointer leaves its methods.
final class ResultSlots<Element>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Element>

    init(count: Int, initial: Element) {
        unsafe slots = .allocate(capacity: count)
        unsafe slots.initialize(repeating: initial)
    }

    deinit {
        unsafe slots.deinitialize()
        unsafe slots.deallocate()
    }

    /// Safe from several threads as long as no two touch the same index.
    subscript(index: Int) -> Element {
        get { unsafe slots[index] }
        set { unsafe slots[index] = newValue }
    }

    var array: [Element] { unsafe Array(slots) }
}
