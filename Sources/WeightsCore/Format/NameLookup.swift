/// Finds a tensor by name in a list of tensors, comparing names as UTF-8 bytes.
///
/// The reference writer orders tensors by dtype, then by name, so a file it wrote lists its
/// names as a few ascending runs, one per dtype. Such a list is searched in place, by
/// bisection in each run, and opening the file builds no table: checking that no name is in
/// two runs takes one merge-like pass per pair of runs. A list in any other order gets a
/// hashed ``NameIndex``.
///
/// ```swift
/// let names = tensors.lazy.map(\.name)
/// let (lookup, duplicate) = NameLookup.build(names)
/// lookup.position(of: "pooler.dense.bias", in: names)
/// ```
enum NameLookup: Sendable {
    /// The names ascend within each run; the positions where runs start, the first being 0.
    case sortedRuns([Int])
    /// The names in any order, through a hash table.
    case hashing(NameIndex)

    /// Beyond this many runs the pairwise checks for a name in two runs would cost more than
    /// hashing every name.
    static let maximumRuns = 4

    /// The lookup for `names`, and the first position whose name is the same as an earlier one's.
    ///
    /// - Complexity: O(*n*) comparisons for *n* names in at most ``maximumRuns`` runs,
    ///   otherwise O(*n*) expected to hash them.
    static func build<Names: RandomAccessCollection<String>>(_ names: Names) -> (lookup: NameLookup, duplicate: Int?)
        where Names.Index == Int
    {
        build(names) { utf8Compare(names[$0], names[$1]) }
    }

    /// The same, comparing the names' UTF-8 bytes as given in `bytes` (a header reader has them
    /// at hand, and comparing them skips going through `String`).
    static func build<Names: RandomAccessCollection<String>>(_ names: Names, bytes: [UnsafeRawBufferPointer])
        -> (lookup: NameLookup, duplicate: Int?) where Names.Index == Int
    {
        // Sound: the byte strings are valid for the call (the header reader's bytes), and the
        // comparison, which the array's checked subscripts feed, does not outlive the build.
        unsafe precondition(bytes.count == names.count, "one byte string per name")
        return build(names) { unsafe compareBytes(bytes[$0], bytes[$1]) }
    }

    private static func build<Names: RandomAccessCollection<String>>(_ names: Names, compare: (Int, Int) -> Int)
        -> (lookup: NameLookup, duplicate: Int?) where Names.Index == Int
    {
        if let runs = sortedRuns(count: names.count, compare: compare) {
            return (.sortedRuns(runs), firstNameInTwoRuns(runs, count: names.count, compare: compare))
        }
        let (index, duplicate) = NameIndex.build(names)
        return (.hashing(index), duplicate)
    }

    /// Where `name` is in `names`, the list this lookup was built from.
    ///
    /// - Complexity: O(*r* log *n*) comparisons for *r* runs, or O(1) expected plus hashing `name`.
    func position<Names: RandomAccessCollection<String>>(of name: String, in names: Names) -> Int?
        where Names.Index == Int
    {
        switch self {
        case .hashing(let index):
            return index.position(of: name, in: names)
        case .sortedRuns(let starts):
            for (run, start) in starts.enumerated() {
                let end = run + 1 < starts.count ? starts[run + 1] : names.endIndex
                if let found = Self.bisect(for: name, in: names, start..<end) { return found }
            }
            return nil
        }
    }

    private static func bisect<Names: RandomAccessCollection<String>>(
        for name: String, in names: Names, _ range: Range<Int>
    ) -> Int? where Names.Index == Int {
        var (low, high) = (range.lowerBound, range.upperBound)
        while low < high {
            let middle = low + (high - low) / 2
            let order = utf8Compare(names[middle], name)
            if order == 0 { return middle }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return nil
    }

    /// Where the strictly ascending runs of `0..<count` start, or nil when there are more than
    /// ``maximumRuns``. A name equal to the one before it starts a run, so that the duplicate
    /// is found between runs.
    private static func sortedRuns(count: Int, compare: (Int, Int) -> Int) -> [Int]? {
        var starts = [0]
        for position in stride(from: 1, to: count, by: 1) where compare(position - 1, position) >= 0 {
            guard starts.count < maximumRuns else { return nil }
            starts.append(position)
        }
        return starts
    }

    /// The later position of the first name found in two runs, walking each pair of runs
    /// together as a merge does.
    private static func firstNameInTwoRuns(_ starts: [Int], count: Int, compare: (Int, Int) -> Int) -> Int? {
        let runs = starts.indices.map { starts[$0]..<($0 + 1 < starts.count ? starts[$0 + 1] : count) }
        var first: Int?
        for (a, earlier) in runs.enumerated() {
            for later in runs[(a + 1)...] {
                var (i, j) = (earlier.lowerBound, later.lowerBound)
                while i < earlier.upperBound, j < later.upperBound {
                    let order = compare(i, j)
                    if order == 0 {
                        first = min(first ?? j, j)
                        break
                    }
                    if order < 0 { i += 1 } else { j += 1 }
                }
            }
        }
        return first
    }
}
