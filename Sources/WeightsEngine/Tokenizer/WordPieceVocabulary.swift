/// A WordPiece vocabulary: the token ↔ id maps, plus a trie over Unicode
/// scalars that finds the longest vocabulary entry starting at a position
/// without building any `String`.
///
/// The trie is stored flat: node 0 is the root, every edge is a
/// `(parent node, scalar) → child node` entry of an open-addressing hash
/// table, and `terminalIDs[node]` is the id of the token that ends at that
/// node (or -1). Continuation pieces (`##ing`) are found by starting the walk
/// at the node reached by the prefix `##` instead of at the root.
struct WordPieceVocabulary: Sendable {
    /// Token text by id; ids that no token uses hold an empty string.
    let tokens: [String]
    /// Id by token text.
    let ids: [String: Int32]

    private let terminalIDs: [Int32]
    private let edges: EdgeTable
    /// The node reached by the continuing-subword prefix, if any token starts with it.
    private let continuationRoot: UInt32?

    /// How far ids may run past the number of entries: the id → token table has
    /// `largest id + 1` slots, and readers refuse a vocabulary whose largest id is at least
    /// `count + idSlack` (Spec/limits.md). Real vocabularies are dense (ids 0 to count − 1).
    static let idSlack = 65_536

    /// Builds the vocabulary. `ids` must hold non-negative ids.
    ///
    /// Complexity: O(total number of scalars in all tokens).
    init(ids: [String: Int32], continuingSubwordPrefix: String) {
        self.ids = ids
        let maxID = ids.values.max() ?? -1
        var tokens = [String](repeating: "", count: Int(maxID) + 1)
        for (token, id) in ids { tokens[Int(id)] = token }
        self.tokens = tokens

        // Built straight into the flat table; the trie's shape does not depend on the order
        // the tokens come in, only its node numbering does.
        var table = EdgeTable(capacity: 4 * ids.count)
        var terminals: [Int32] = [-1]
        for (token, id) in ids where !token.isEmpty {
            var node: UInt32 = 0
            for scalar in token.unicodeScalars {
                node = table.child(node, scalar.value, orInsert: UInt32(terminals.count))
                if Int(node) == terminals.count { terminals.append(-1) }
            }
            terminals[Int(node)] = id
        }
        var root: UInt32? = 0
        for scalar in continuingSubwordPrefix.unicodeScalars {
            guard let node = root else { break }
            root = table.child(node, scalar.value)
        }
        continuationRoot = root
        terminalIDs = terminals
        edges = table
    }

    var count: Int { ids.count }

    /// The longest vocabulary entry that matches `word[start..<k]` for some k,
    /// looked up with the continuing-subword prefix when `continuation` is true.
    /// Returns the entry's id and the end index k, or nil when no entry matches.
    ///
    /// Complexity: O(length of the longest match attempt), one hash probe per scalar.
    @inline(__always)
    func longestMatch(
        in word: UnsafeBufferPointer<UInt32>, from start: Int, continuation: Bool
    ) -> (id: Int32, end: Int)? {
        guard var node = continuation ? continuationRoot : 0 else { return nil }
        var best: (id: Int32, end: Int)?
        var index = start
        // Sound: `index < word.count` is checked before each read.
        while index < word.count, let next = unsafe edges.child(node, word[index]) {
            node = next
            index += 1
            let id = terminalIDs[Int(node)]
            if id >= 0 { best = (id, index) }
        }
        return best
    }
}

/// The trie's edges: `(parent node, scalar) → child node` in an open-addressing hash table
/// with linear probing, kept at most half full.
private struct EdgeTable: Sendable {
    private var keys: [UInt64]
    private var children: [UInt32]
    private var mask: Int
    private var count = 0

    private static let emptyKey = UInt64.max

    /// A table with room for about `capacity` edges before it grows.
    init(capacity: Int) {
        var slots = 16
        while slots < capacity * 2 { slots <<= 1 }
        keys = [UInt64](repeating: Self.emptyKey, count: slots)
        children = [UInt32](repeating: 0, count: slots)
        mask = slots - 1
    }

    @inline(__always)
    private static func key(_ node: UInt32, _ scalar: UInt32) -> UInt64 {
        UInt64(node) << 21 | UInt64(scalar)
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The child of `node` along `scalar`, if that edge exists.
    ///
    /// - Complexity: O(1) expected.
    @inline(__always)
    func child(_ node: UInt32, _ scalar: UInt32) -> UInt32? {
        let key = Self.key(node, scalar)
        // Sound: slots are masked to `keys.count - 1` (a power of two), and the table is kept at
        // most half full (the insert grows it), so the probe reaches an empty slot and ends.
        return unsafe keys.withUnsafeBufferPointer { keys in
            var slot = Self.slot(key, mask)
            while true {
                let found = unsafe keys[slot]
                if found == key { return children[slot] }
                if found == Self.emptyKey { return nil }
                slot = (slot + 1) & mask
            }
        }
    }

    /// The child of `node` along `scalar`; when there is none, adds the edge to `newChild` and
    /// returns it.
    ///
    /// - Complexity: O(1) amortized.
    mutating func child(_ node: UInt32, _ scalar: UInt32, orInsert newChild: UInt32) -> UInt32 {
        let key = Self.key(node, scalar)
        var slot = Self.slot(key, mask)
        while keys[slot] != Self.emptyKey {
            if keys[slot] == key { return children[slot] }
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        children[slot] = newChild
        count += 1
        if count * 2 > keys.count { grow() }
        return newChild
    }

    private mutating func grow() {
        var larger = EdgeTable(capacity: keys.count)
        for (key, child) in zip(keys, children) where key != Self.emptyKey {
            var slot = Self.slot(key, larger.mask)
            while larger.keys[slot] != Self.emptyKey { slot = (slot + 1) & larger.mask }
            larger.keys[slot] = key
            larger.children[slot] = child
        }
        larger.count = count
        self = larger
    }
}
