/// Typed views of a ``JSONValue``, for readers that apply a schema to a small document (the
/// engine's model configuration files): each is the value's payload when the value has that
/// type, else nil.
///
/// ```swift
/// let config = try JSONValue.parse(bytes, unit: "byte")
/// config["hidden_size"]?.intValue        // 384
/// config["hidden_act"]?.stringValue      // "gelu"
/// config["missing"]?.intValue            // nil
/// ```
extension JSONValue {
    /// The members of an object, in order.
    package var members: [(String, JSONValue)]? {
        guard case .object(let members) = self else { return nil }
        return members
    }

    /// The elements of an array.
    package var elements: [JSONValue]? {
        guard case .array(let elements) = self else { return nil }
        return elements
    }

    package var stringValue: String? {
        guard case .string(let text) = self else { return nil }
        return text
    }

    package var boolValue: Bool? {
        guard case .bool(let flag) = self else { return nil }
        return flag
    }

    /// A number written as an integer (no fraction, no exponent) that fits in `Int`.
    package var intValue: Int? {
        guard case .number(let text) = self else { return nil }
        return Int(text)
    }

    /// Any number, as the nearest `Double`.
    package var doubleValue: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    /// Any number, rounded once from its text to the nearest `Float`.
    package var floatValue: Float? {
        guard case .number(let text) = self else { return nil }
        return Float(text)
    }

    package var isNull: Bool { self == .null }
}
