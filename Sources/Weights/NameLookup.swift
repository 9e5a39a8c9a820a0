/// Finds a tensor by name in a list of tensors, comparing names as UTF-8 bytes.
///
/// Most files list their tensors sorted by name: the reference writer orders them by dtype,
/// then name, and most checkpoints hold a single dtype. Such a list is searched in place by
/// bisection, so opening the file builds no table. Any other list gets a hashed ``NameIndex``.
///
/// ```swift
/// let (lookup, duplicate) = NameLookup.build(tensors.lazy.map(\.name))
/// lookup.position(of: "pooler.dense.bias", in: tensors.lazy.map(\.name))
/// ```
enum NameLookup: Sendable {
    /// The names strictly increase, as UTF-8 bytes.
    case bisection
    /// The names in any order, through a hash table.
    case hashing(NameIndex)

    /// The lookup for `names`, and the first position whose name is the same as an earlier one's.
    ///
    /// - Complexity: O(*n*) comparisons of neighbours; when they are out of order, O(*n*)
    ///   expected more to hash them.
    static func build<Names: RandomAccessCollection<String>>(_ names: Names) -> (lookup: NameLookup, duplicate: Int?)
        where Names.Index == Int
    {
        var position = names.startIndex + 1
        while position < names.endIndex, utf8Compare(names[position - 1], names[position]) < 0 { position += 1 }
        if position >= names.endIndex { return (.bisection, nil) }
        let (index, duplicate) = NameIndex.build(names)
        return (.hashing(index), duplicate)
    }

    /// Whether names given one by one, as their bytes, strictly ascend; a header reader feeds it
    /// the names while they are in cache.
    struct AscendingCheck {
        private var previous: UnsafeRawBufferPointer?
        /// True until a name does not sort after the one before it, or comes without its bytes.
        private(set) var holds = true

        init() {}

        /// Takes the next name's bytes, or nil when the name is only at hand as a `String` (it
        /// had escapes): the check then gives up, and the names get a hash table.
        mutating func append(_ name: UnsafeRawBufferPointer?) {
            guard holds else { return }
            guard let name else { return holds = false }
            if let previous, compareBytes(previous, name) >= 0 { holds = false }
            previous = name
        }
    }

    /// Where `name` is in `names`, the list this lookup was built from.
    ///
    /// - Complexity: O(log *n*) comparisons when sorted, else O(1) expected plus hashing `name`.
    func position<Names: RandomAccessCollection<String>>(of name: String, in names: Names) -> Int?
        where Names.Index == Int
    {
        switch self {
        case .hashing(let index):
            return index.position(of: name, in: names)
        case .bisection:
            var (low, high) = (names.startIndex, names.endIndex)
            while low < high {
                let middle = low + (high - low) / 2
                let order = utf8Compare(names[middle], name)
                if order == 0 { return middle }
                if order < 0 { low = middle + 1 } else { high = middle }
            }
            return nil
        }
    }
}
