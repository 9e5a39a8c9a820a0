/// A GGUF file's key/value metadata, in file order, looked up by key.
///
/// ```swift
/// let metadata = try GGUFFile(path: "model.gguf").metadata
/// metadata["general.alignment"]?.int             // 32, when the file sets it
/// for (key, value) in metadata { print(key, value.type) }
/// ```
///
/// - Complexity: Lookup by key is O(1) on average; iteration is in file order.
public struct GGUFMetadata: Sendable, RandomAccessCollection {
    public typealias Element = (key: String, value: GGUFValue)

    /// The entries in file order.
    public let entries: [Element]
    private let index: [String: Int]

    init(entries: [Element], index: [String: Int]) {
        self.entries = entries
        self.index = index
    }

    public var startIndex: Int { entries.startIndex }
    public var endIndex: Int { entries.endIndex }
    public subscript(position: Int) -> Element { entries[position] }

    /// The value of `key`, or `nil`.
    public subscript(key: String) -> GGUFValue? {
        index[key].map { entries[$0].value }
    }

    /// The keys in file order.
    public var keys: [String] { entries.map(\.key) }
}
