import WeightsPlatform

/// Each tensor name's position in a list of names, compared as UTF-8 bytes.
///
/// An open-addressing table of positions plus each position's 64-bit name hash. Names are
/// hashed with the standard library's per-process seeded `Hasher`, so a file cannot be crafted
/// to make the table degrade. The table never holds the names: a lookup compares hashes, then
/// the candidate's bytes with the name in the list it indexes.
///
/// ```swift
/// let (index, duplicate) = NameIndex.build(names)   // duplicate: a position whose name came earlier
/// index.position(of: "lm_head.weight", in: names)
/// ```
struct NameIndex: Sendable {
    /// Position + 1 per slot; 0 is an empty slot.
    private var slots: [UInt32]
    private var mask: Int
    /// The hash of each position's name.
    private var hashes: [UInt64] = []

    private init(minimumCapacity: Int) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        slots = [UInt32](repeating: 0, count: capacity)
        mask = capacity - 1
        hashes.reserveCapacity(minimumCapacity)
    }

    /// The index of `names`, and the first position whose name is the same as an earlier one's.
    ///
    /// - Complexity: O(*n*) expected, plus hashing the names.
    static func build<Names: RandomAccessCollection<String>>(_ names: Names) -> (index: NameIndex, duplicate: Int?)
        where Names.Index == Int
    {
        precondition(names.count < Int(UInt32.max) - 1, "more names than an index can hold")
        var index = NameIndex(minimumCapacity: names.count)
        var duplicate: Int?
        for (position, name) in names.enumerated() {
            let hash = Self.hash(name)
            var slot = index.slot(for: hash)
            while index.slots[slot] != 0 {
                let earlier = Int(index.slots[slot]) - 1
                if duplicate == nil, index.hashes[earlier] == hash, utf8Compare(names[earlier], name) == 0 {
                    duplicate = position
                }
                slot = (slot + 1) & index.mask
            }
            index.slots[slot] = UInt32(position + 1)
            index.hashes.append(hash)
        }
        return (index, duplicate)
    }

    /// The seeded hash of a name's UTF-8 bytes.
    static func hash(_ name: String) -> UInt64 {
        var name = name
        return name.withUTF8 { bytes in
            var hasher = Hasher()
            unsafe hasher.combine(bytes: UnsafeRawBufferPointer(bytes))  // Sound: the string's bytes, lent inside `withUTF8`.
            return UInt64(truncatingIfNeeded: hasher.finalize())
        }
    }

    /// Where `name` is in `names`, the list this index was built from.
    ///
    /// - Complexity: O(1) expected, plus hashing `name`.
    func position<Names: RandomAccessCollection<String>>(of name: String, in names: Names) -> Int?
        where Names.Index == Int
    {
        let hash = Self.hash(name)
        var slot = slot(for: hash)
        while slots[slot] != 0 {
            let position = Int(slots[slot]) - 1
            if hashes[position] == hash, utf8Compare(names[position], name) == 0 { return position }
            slot = (slot + 1) & mask
        }
        return nil
    }

    private func slot(for hash: UInt64) -> Int { Int(truncatingIfNeeded: hash) & mask }
}

/// Compares two strings by their UTF-8 bytes: negative, zero or positive as `a` sorts before,
/// with or after `b`. Unlike `String`'s `<` and `==`, it tells apart canonically equivalent
/// spellings, as the format does.
package func utf8Compare(_ a: String, _ b: String) -> Int {
    var (a, b) = (a, b)
    // Both are native strings nearly always, and `withUTF8` then lends their storage as it is.
    // Sound: both strings' bytes are lent inside their `withUTF8` closures.
    return a.withUTF8 { x in b.withUTF8 { y in unsafe compareBytes(UnsafeRawBufferPointer(x), UnsafeRawBufferPointer(y)) } }
}

/// Compares two byte strings: negative, zero or positive as `a` sorts before, with or after `b`.
package func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let common = min(a.count, b.count)
    // Sound: `common > 0` makes both buffers non-empty (non-nil addresses) and at least `common` long.
    let order = unsafe common == 0 ? 0 : Int(memcmp(a.baseAddress!, b.baseAddress!, common))
    return order != 0 ? order : a.count - b.count
}
