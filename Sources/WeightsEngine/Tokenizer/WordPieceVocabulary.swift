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
    private let edgeKeys: [UInt64]
    private let edgeChildren: [UInt32]
    private let edgeMask: Int
    /// The node reached by the continuing-subword prefix, if any token starts with it.
    private let continuationRoot: UInt32?

    private static let emptyKey = UInt64.max

    /// Builds the vocabulary. `ids` must hold non-negative ids.
    ///
    /// Complexity: O(total number of scalars in all tokens).
    init(ids: [String: Int32], continuingSubwordPrefix: String) {
        self.ids = ids
        let maxID = ids.values.max() ?? -1
        var tokens = [String](repeating: "", count: Int(maxID) + 1)
        for (token, id) in ids { tokens[Int(id)] = token }
        self.tokens = tokens

        // Build with a dictionary, then freeze into the flat table.
        var edges: [UInt64: UInt32] = [:]
        var terminals: [Int32] = [-1]
        func insert(_ text: String) -> UInt32 {
            var node: UInt32 = 0
            for scalar in text.unicodeScalars {
                let key = Self.key(node, scalar.value)
                if let child = edges[key] {
                    node = child
                } else {
                    let child = UInt32(terminals.count)
                    terminals.append(-1)
                    edges[key] = child
                    node = child
                }
            }
            return node
        }
        // Sorted so that the layout does not depend on dictionary order.
        for (token, id) in ids.sorted(by: { $0.value < $1.value }) where !token.isEmpty {
            terminals[Int(insert(token))] = id
        }
        var root: UInt32? = 0
        for scalar in continuingSubwordPrefix.unicodeScalars {
            guard let node = root else { break }
            root = edges[Self.key(node, scalar.value)]
        }
        continuationRoot = root

        var capacity = 16
        while capacity < edges.count * 2 { capacity <<= 1 }
        var keys = [UInt64](repeating: Self.emptyKey, count: capacity)
        var children = [UInt32](repeating: 0, count: capacity)
        let mask = capacity - 1
        for (key, child) in edges {
            var slot = Self.slot(key, mask)
            while keys[slot] != Self.emptyKey { slot = (slot + 1) & mask }
            keys[slot] = key
            children[slot] = child
        }
        terminalIDs = terminals
        edgeKeys = keys
        edgeChildren = children
        edgeMask = mask
    }

    var count: Int { ids.count }

    @inline(__always)
    private static func key(_ node: UInt32, _ scalar: UInt32) -> UInt64 {
        UInt64(node) << 21 | UInt64(scalar)
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    @inline(__always)
    private func child(_ node: UInt32, _ scalar: UInt32) -> UInt32? {
        let key = Self.key(node, scalar)
        return edgeKeys.withUnsafeBufferPointer { keys in
            var slot = Self.slot(key, edgeMask)
            while true {
                let found = keys[slot]
                if found == key { return edgeChildren[slot] }
                if found == Self.emptyKey { return nil }
                slot = (slot + 1) & edgeMask
            }
        }
    }

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
        while index < word.count, let next = child(node, word[index]) {
            node = next
            index += 1
            let id = terminalIDs[Int(node)]
            if id >= 0 { best = (id, index) }
        }
        return best
    }
}
