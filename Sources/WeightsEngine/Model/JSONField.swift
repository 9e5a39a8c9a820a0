import WeightsCore

/// A value in one of a model directory's JSON files, with the keys that lead to it: typed
/// reads whose errors name the file and the key.
///
/// Files are parsed with WeightsCore's strict ``JSONScanner`` (duplicate keys and bad syntax
/// are refused, with the byte offset). An absent field and `null` both read as `nil`; a field
/// of another type than asked, or a missing required one, is an `invalidArgument` error about
/// the file whose reason names the field's path (`normalizer.lowercase`).
///
/// ```swift
/// let config = try JSONField(contentsOf: "all-MiniLM-L6-v2/config.json")
/// try config["hidden_size"].requiredInt()           // 384
/// try config["hidden_act"].string() ?? "gelu"       // "gelu"
/// try config["hidden_size"].bool()                  // throws: expected true or false
/// ```
struct JSONField {
    /// The value; nil when the field is absent.
    let value: JSONValue?
    /// The file the value comes from.
    let file: String
    /// The keys (and array indices) from the document's root to the field's parent, joined
    /// by dots; empty for the root and its members.
    let parent: String
    /// The field's key or index in its parent; empty for the root.
    let name: String

    init(_ value: JSONValue?, file: String, parent: String = "", name: String = "") {
        self.value = value
        self.file = file
        self.parent = parent
        self.name = name
    }

    /// Reads and parses the whole JSON file at `path`.
    ///
    /// - Throws: `io` when the file cannot be read; `invalidArgument` for bad JSON, with the
    ///   byte offset.
    /// - Complexity: O(file size).
    init(contentsOf path: String) throws {
        let storage = try ByteStorage.map(path: path)
        do {
            // Sound: the storage lives until the parse returns, and the parsed values are copies.
            let root = try withExtendedLifetime(storage) { unsafe try JSONValue.parse(storage.bytes, unit: "byte") }
            self.init(root, file: path)
        } catch let error as WeightsError {
            throw Self.malformed(error, file: path)
        }
    }

    /// The file at `path` parsed, or nil when there is no file there.
    static func contents(ifPresentAt path: String) throws -> JSONField? {
        guard ModelDirectory.fileExists(path) else { return nil }
        return try JSONField(contentsOf: path)
    }

    /// `error` as an error about `file`: the scanner's syntax errors become `invalidArgument`
    /// ("malformed JSON: …"); others are kept, tagged with the file.
    static func malformed(_ error: WeightsError, file: String) -> WeightsError {
        guard error.code == .invalidHeaderDeserialization else { return error.in(file: file) }
        return WeightsError(.invalidArgument, "malformed JSON: \(error.reason)", file: file)
    }

    /// The field's keys from the root, joined by dots (`post_processor.single.0`).
    var path: String { parent.isEmpty ? name : parent + "." + name }

    /// The member `key` of this object (absent when this is not an object).
    subscript(key: String) -> JSONField {
        JSONField(value?[key], file: file, parent: path, name: key)
    }

    // MARK: Typed reads

    /// The members of an object, in order.
    func object() throws -> [(key: String, value: JSONField)]? {
        try read("an object") { $0.members }?.map { ($0.0, JSONField($0.1, file: file, parent: path, name: $0.0)) }
    }

    /// The elements of an array.
    func array() throws -> [JSONField]? {
        try read("an array") { $0.elements }?.enumerated().map { index, element in
            JSONField(element, file: file, parent: path, name: String(index))
        }
    }

    func string() throws -> String? { try read("a string") { $0.stringValue } }

    func bool() throws -> Bool? { try read("true or false") { $0.boolValue } }

    /// An integer written without fraction or exponent, that fits in `Int`.
    func int() throws -> Int? { try read("an integer") { $0.intValue } }

    /// Any number, rounded once to the nearest `Float`.
    func float() throws -> Float? { try read("a number") { $0.floatValue } }

    /// Any number, as the nearest `Double`.
    func double() throws -> Double? { try read("a number") { $0.doubleValue } }

    /// This field, which must hold an object (a file's top level, an entry of a list).
    func asObject() throws -> JSONField {
        guard try object() != nil else { throw mismatch("an object") }
        return self
    }

    func requiredString() throws -> String {
        guard let text = try string() else { throw missing() }
        return text
    }

    func requiredInt() throws -> Int {
        guard let number = try int() else { throw missing() }
        return number
    }

    // MARK: Errors

    /// The field holds a value of the wrong type (or shape).
    func mismatch(_ expected: String) -> WeightsError {
        WeightsError(.invalidArgument,
            "unexpected value at \(path.isEmpty ? "the top level" : path): expected \(expected)", file: file)
    }

    /// The field is required but absent (or `null`).
    func missing() -> WeightsError {
        WeightsError(.invalidArgument, "missing key \"\(name)\"" + (parent.isEmpty ? "" : " at \(parent)"), file: file)
    }

    /// Something else is wrong with the field: `reason` for people, about this file.
    func invalid(_ reason: String) -> WeightsError {
        WeightsError(.invalidArgument, reason, file: file)
    }

    private func read<T>(_ expected: String, _ cast: (JSONValue) -> T?) throws -> T? {
        guard let value, !value.isNull else { return nil }
        guard let typed = cast(value) else { throw mismatch(expected) }
        return typed
    }
}
