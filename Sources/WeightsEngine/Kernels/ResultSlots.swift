/// One slot per result, written by parallel workers that each own distinct indices.
final class ResultSlots<Element>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Element>

    init(count: Int, initial: Element) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: initial)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    /// Safe from several threads as long as no two touch the same index.
    subscript(index: Int) -> Element {
        get { slots[index] }
        set { slots[index] = newValue }
    }

    var array: [Element] { Array(slots) }
}
