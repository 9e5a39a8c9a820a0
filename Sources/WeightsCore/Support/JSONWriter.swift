/// Writing JSON: the package's one way to produce it, from the same ``JSONValue`` the reader
/// gives, so that no JSON is built by joining strings.
///
/// Output is compact (no whitespace), members stay in the order given, and strings are escaped
/// as the reference safetensors writer escapes them (``CanonicalJSON``).
///
/// ```swift
/// let value: JSONValue = .object([("name", .string("w")), ("shape", .array([.int(2), .int(3)]))])
/// value.serialized()   // {"name":"w","shape":[2,3]}
/// ```
extension JSONValue {
    /// An integer.
    package static func int(_ value: Int) -> JSONValue { .number(String(value)) }

    /// A floating-point number in Swift's shortest round-trip form; `null` when it is infinite
    /// or NaN, which JSON cannot hold.
    package static func double(_ value: Double) -> JSONValue {
        value.isFinite ? .number("\(value)") : .null
    }

    /// A float, as ``double(_:)`` writes it but with `Float`'s shortest form ("0.1", not
    /// "0.10000000149011612").
    package static func float(_ value: Float) -> JSONValue {
        value.isFinite ? .number("\(value)") : .null
    }

    /// `value`, or `null` when it is `nil`.
    package static func optional(_ value: JSONValue?) -> JSONValue { value ?? .null }

    /// A string-to-string map, members sorted by their UTF-8 bytes; `null` when `nil`.
    package static func sortedStrings(_ map: [String: String]?) -> JSONValue {
        guard let map else { return .null }
        return .object(map.keys.sorted(by: utf8Precedes).map { ($0, .string(map[$0]!)) })
    }

    /// The value as compact JSON text.
    ///
    /// - Complexity: O(*n*) in the size of the output.
    package func serialized() -> String {
        var out: [UInt8] = []
        append(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The value as JSON text indented by `width` spaces a level, as Python's
    /// `json.dumps(value, indent: width)` lays it out (transformers writes `config.json` so):
    /// one member or element a line, `": "` after keys, empty containers as `{}` and `[]`.
    ///
    /// - Complexity: O(*n*) in the size of the output.
    package func indented(by width: Int = 2) -> String {
        var out: [UInt8] = []
        appendIndented(to: &out, width: width, level: 0)
        return String(decoding: out, as: UTF8.self)
    }

    private func appendIndented(to out: inout [UInt8], width: Int, level: Int) {
        func newline(_ level: Int) {
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: width * level))
        }
        switch self {
        case .object(let members) where !members.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1)
                CanonicalJSON.appendString(key, to: &out)
                out.append(contentsOf: ": ".utf8)
                value.appendIndented(to: &out, width: width, level: level + 1)
            }
            newline(level)
            out.append(UInt8(ascii: "}"))
        case .array(let elements) where !elements.isEmpty:
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1)
                element.appendIndented(to: &out, width: width, level: level + 1)
            }
            newline(level)
            out.append(UInt8(ascii: "]"))
        default:
            append(to: &out)
        }
    }

    /// Appends the value as compact JSON text to `out`.
    package func append(to out: inout [UInt8]) {
        switch self {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                CanonicalJSON.appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.append(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                element.append(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let text): CanonicalJSON.appendString(text, to: &out)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }
}
