/// Each tensor name's position in a list of tensors, compared as UTF-8 bytes.
///
/// An open-addressing table of positions plus each position's 64-bit name hash. A header reader
/// fills it while it scans, hashing each name's bytes while they are in cache, and finds
/// duplicate names as it goes. Names are hashed with the standard library's per-process seeded
/// `Hasher`, so a file cannot be crafted to make the table degrade. The table never holds the
/// names: a lookup compares hashes, then the candidate's bytes with the name in the list it
/// indexes.
///
/// ```swift
/// var index = NameIndex(minimumCapacity: names.count)
/// for name in names {
///     if let earlier = index.append(NameIndex.hash(name), isEqual: { names[$0] == name }) { … }
/// }
/// index.position(of: "lm_head.weight", in: names)
/// ```
struct NameIndex: Sendable {
    /// Position + 1 per slot; 0 is an empty slot.
    private var slots: [UInt32]
    private var mask: Int
    /// The hash of each position's name.
    private var hashes: [UInt64] = []

    init(minimumCapacity: Int) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        slots = [UInt32](repeating: 0, count: capacity)
        mask = capacity - 1
        hashes.reserveCapacity(minimumCapacity)
    }

    /// The number of names indexed.
    var count: Int { hashes.count }

    /// The seeded hash of a name's UTF-8 bytes.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return UInt64(truncatingIfNeeded: hasher.finalize())
    }

    static func hash(_ name: String) -> UInt64 {
        var name = name
        return name.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }

    /// Adds the name at position ``count``, whose hash is `hash`. Returns the position of an
    /// earlier name with the same hash for which `isEqual` is true (the new one is added all the
    /// same, so positions stay aligned with the caller's list), or nil.
    ///
    /// - Complexity: O(1) amortized expected.
    mutating func append(_ hash: UInt64, isEqual: (Int) -> Bool) -> Int? {
        precondition(count < Int(UInt32.max) - 1, "more names than an index can hold")
        var match: Int?
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 {
            let position = Int(slots[slot]) - 1
            if match == nil, hashes[position] == hash, isEqual(position) { match = position }
            slot = (slot + 1) & mask
        }
        slots[slot] = UInt32(count + 1)
        hashes.append(hash)
        if count * 2 > slots.count { rebuild(capacity: slots.count * 2) }
        return match
    }

    /// The same names in a new order: position *i* of the result is position `order[i]` of this
    /// index.
    ///
    /// - Complexity: O(*n*).
    func reordered(_ order: [Int]) -> NameIndex {
        var copy = self
        copy.hashes = order.map { hashes[$0] }
        copy.rebuild(capacity: slots.count)
        return copy
    }

    /// Where `name` is in `names`, the list this index was built along.
    ///
    /// - Complexity: O(1) expected, plus hashing `name`.
    func position<Names: RandomAccessCollection<String>>(of name: String, in names: Names) -> Int?
        where Names.Index == Int
    {
        let hash = Self.hash(name)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 {
            let position = Int(slots[slot]) - 1
            if hashes[position] == hash, UTF8Key(names[position]) == UTF8Key(name) { return position }
            slot = (slot + 1) & mask
        }
        return nil
    }

    private mutating func rebuild(capacity: Int) {
        slots = [UInt32](repeating: 0, count: capacity)
        mask = capacity - 1
        for (position, hash) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = UInt32(position + 1)
        }
    }
}
