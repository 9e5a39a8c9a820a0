extension GGUFMetadata {
    /// The safetensors `__metadata__` key under which a GGUF file's metadata travels when the
    /// file is converted to safetensors: `gguf.metadata`.
    public static let safetensorsKey = "gguf.metadata"

    /// The metadata as one JSON object, typed so that it converts back to the same values:
    /// each key maps to `{"type": T, "value": V}` with T the GGUF type name (`UINT32`,
    /// `FLOAT32`, `STRING`…). An array is `{"type": "ARRAY", "item_type": I, "value": [...]}`,
    /// and an item that is itself an array is `{"item_type": I, "value": [...]}`. Floats are
    /// written in their shortest round-trip form; NaN and infinities, which JSON cannot hold,
    /// as the strings `"nan"`, `"inf"`, `"-inf"`. Keys keep their file order.
    ///
    /// ```swift
    /// let json = try GGUFFile(path: "model.gguf").metadata.json()
    /// // {"general.architecture":{"type":"STRING","value":"gemma3"},"gemma3.block_count":{"type":"UINT32","value":18},...}
    /// let entries = try GGUFMetadata.entries(fromJSON: json)   // the same pairs
    /// ```
    ///
    /// - Complexity: O(*n*) in the size of the metadata.
    /// - Throws: the decoding errors of ``GGUFArray/values()`` (a string that is not UTF-8, a
    ///   BOOL byte other than 0 or 1).
    public func json() throws -> String {
        var members: [(String, JSONValue)] = []
        members.reserveCapacity(count)
        for (key, value) in entries {
            if case .array(let array) = value {
                members.append((key, .object([("type", .string("ARRAY"))] + (try GGUFMetadata.json(array)))))
            } else {
                members.append((key, .object([("type", .string(value.type.name)), ("value", GGUFMetadata.json(scalar: value))])))
            }
        }
        return JSONValue.object(members).serialized()
    }

    private static func json(_ array: GGUFArray) throws -> [(String, JSONValue)] {
        var items: [JSONValue] = []
        items.reserveCapacity(array.count)
        if array.elementType == .string {
            for text in try array.strings() { items.append(.string(text)) }
        } else {
            try array.forEach { item in
                if case .array(let inner) = item {
                    items.append(.object(try json(inner)))
                } else {
                    items.append(json(scalar: item))
                }
            }
        }
        return [("item_type", .string(array.elementType.name)), ("value", .array(items))]
    }

    private static func json(scalar value: GGUFValue) -> JSONValue {
        switch value {
        case .float32(let v): v.isFinite ? .float(v) : .string(v.isNaN ? "nan" : v < 0 ? "-inf" : "inf")
        case .float64(let v): v.isFinite ? .double(v) : .string(v.isNaN ? "nan" : v < 0 ? "-inf" : "inf")
        case .bool(let v): .bool(v)
        case .string(let v): .string(v)
        case .array: .null   // arrays are written by json(_:)
        default: .number(value.description)
        }
    }

    /// The key/value pairs of metadata that ``json()`` wrote, in its order.
    ///
    /// - Complexity: O(*n*) in the length of the text.
    /// - Throws: `invalidData` naming the key when the text is not such JSON: a missing or
    ///   unknown type, a value of the wrong kind or out of its type's range.
    public static func entries(fromJSON text: String) throws -> [Element] {
        let utf8 = Array(text.utf8)
        let root: JSONValue
        do {
            root = try unsafe utf8.withUnsafeBytes { unsafe try JSONValue.parse($0, unit: "byte") }  // Sound: parsed inside the closure.
        } catch let error as WeightsError {
            throw WeightsError(.invalidData, "'\(safetensorsKey)' is not JSON: \(error.reason)")
        }
        guard let members = root.members else {
            throw WeightsError(.invalidData, "'\(safetensorsKey)' is not a JSON object")
        }
        return try members.map { key, typed in
            do {
                guard let fields = typed.members, let typeName = field("type", fields)?.stringValue,
                      let type = valueType(named: typeName) else {
                    throw WeightsError(.invalidData, "key '\(key)' has no GGUF type")
                }
                if type == .array { return (key, .array(try array(from: fields, depth: 0))) }
                guard let value = field("value", fields) else { throw WeightsError(.invalidData, "key '\(key)' has no value") }
                return (key, try scalar(type, from: value))
            } catch let error as WeightsError {
                throw WeightsError(.invalidData, "in '\(safetensorsKey)', key '\(key)': \(error.reason)")
            }
        }
    }

    private static func field(_ name: String, _ fields: [(String, JSONValue)]) -> JSONValue? {
        fields.first { $0.0 == name }?.1
    }

    private static func valueType(named name: String) -> GGUFValueType? {
        GGUFValueType.allCases.first { $0.name == name }
    }

    private static func array(from fields: [(String, JSONValue)], depth: Int) throws -> GGUFArray {
        guard depth < GGUFArray.maximumDepth else { throw WeightsError(.invalidData, "arrays nest too deep") }
        guard let typeName = field("item_type", fields)?.stringValue, let itemType = valueType(named: typeName) else {
            throw WeightsError(.invalidData, "an array has no item type")
        }
        guard let items = field("value", fields)?.elements else { throw WeightsError(.invalidData, "an array has no items") }
        if itemType == .string {
            return GGUFArray(strings: try items.map {
                guard let text = $0.stringValue else { throw WeightsError(.invalidData, "a STRING item is not a string") }
                return text
            })
        }
        let values: [GGUFValue] = try items.map { item in
            if itemType == .array {
                guard let inner = item.members else { throw WeightsError(.invalidData, "an ARRAY item is not an object") }
                return .array(try array(from: inner, depth: depth + 1))
            }
            return try scalar(itemType, from: item)
        }
        return try GGUFArray(elementType: itemType, values: values)
    }

    private static func scalar(_ type: GGUFValueType, from json: JSONValue) throws -> GGUFValue {
        func number() throws -> String {
            guard case .number(let text) = json else { throw WeightsError(.invalidData, "a \(type) value is not a number") }
            return text
        }
        func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let text = try number()
            guard let value = T(text) else { throw WeightsError(.invalidData, "\(text) is not a \(type)") }
            return value
        }
        func floating<T: LosslessStringConvertible & BinaryFloatingPoint>(_: T.Type) throws -> T {
            switch json {
            case .number(let text):
                guard let value = T(text) else { throw WeightsError(.invalidData, "\(text) is not a \(type)") }
                return value
            case .string("nan"): return .nan
            case .string("inf"): return .infinity
            case .string("-inf"): return -.infinity
            default: throw WeightsError(.invalidData, "a \(type) value is not a number")
            }
        }
        switch type {
        case .uint8: return .uint8(try integer(UInt8.self))
        case .int8: return .int8(try integer(Int8.self))
        case .uint16: return .uint16(try integer(UInt16.self))
        case .int16: return .int16(try integer(Int16.self))
        case .uint32: return .uint32(try integer(UInt32.self))
        case .int32: return .int32(try integer(Int32.self))
        case .uint64: return .uint64(try integer(UInt64.self))
        case .int64: return .int64(try integer(Int64.self))
        case .float32: return .float32(try floating(Float.self))
        case .float64: return .float64(try floating(Double.self))
        case .bool:
            guard let value = json.boolValue else { throw WeightsError(.invalidData, "a BOOL value is not true or false") }
            return .bool(value)
        case .string:
            guard let value = json.stringValue else { throw WeightsError(.invalidData, "a STRING value is not a string") }
            return .string(value)
        case .array:
            throw WeightsError(.invalidData, "an ARRAY value needs an item type")
        }
    }
}
