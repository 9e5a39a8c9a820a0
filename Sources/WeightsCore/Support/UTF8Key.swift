/// Orders names by their UTF-8 bytes, as the format does.
///
/// Swift's `<` on `String` compares by canonical equivalence, so precomposed "é" and "e" plus
/// U+0301 compare equal; in a safetensors file they are two different tensors.
@inlinable
package func utf8Precedes(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}

/// A dictionary key that compares strings by their UTF-8 bytes rather than by canonical
/// equivalence, so that two differently normalized names stay two keys.
package struct UTF8Key: Hashable, Sendable {
    package let string: String

    package init(_ string: String) { self.string = string }

    package static func == (lhs: UTF8Key, rhs: UTF8Key) -> Bool {
        lhs.string.utf8.count == rhs.string.utf8.count && utf8Compare(lhs.string, rhs.string) == 0
    }

    package func hash(into hasher: inout Hasher) {
        let utf8 = string.utf8
        // Sound: the string's storage, lent inside the closure.
        let hashed: Void? = unsafe utf8.withContiguousStorageIfAvailable { unsafe hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil { for byte in utf8 { hasher.combine(byte) } }
    }
}
