import Weights

/// What `inspect` reports about a GGUF file: its typed metadata, its tensors in the file's
/// own terms (ggml types, dimensions fastest-varying first) and totals per type.
struct GGUFSummary {
    /// Arrays longer than this are summarized by type and length with their first items.
    static let arrayLimit = 64
    /// The items of a summarized array that are shown.
    static let headLength = 8

    let file: GGUFFile

    struct TypeTotal {
        var tensors = 0, parameters = 0, bytes = 0
        var bitsPerWeight: Double { parameters == 0 ? 0 : Double(bytes * 8) / Double(parameters) }
    }

    /// Totals per ggml type, in type-id order.
    var totals: [(type: GGMLType, total: TypeTotal)] {
        var byType: [GGMLType: TypeTotal] = [:]
        for info in file.tensors {
            byType[info.type, default: TypeTotal()].tensors += 1
            byType[info.type]?.parameters += info.elementCount
            byType[info.type]?.bytes += info.byteCount
        }
        return byType.keys.sorted { $0.rawValue < $1.rawValue }.map { ($0, byType[$0] ?? TypeTotal()) }
    }

    var tensorBytes: Int { file.tensors.reduce(0) { $0 + $1.byteCount } }

    // MARK: JSON

    func json() throws -> String {
        let metadata = try file.metadata.map { entry in (entry.key, try Self.json(entry.value)) }
        let tensors = file.tensors.map { info -> JSONValue in
            .object([
                ("name", .string(info.name)), ("type", .string(info.type.name)),
                ("shape", .array(info.dimensions.map(JSONValue.int))),
                ("offset", .int(info.offset)), ("bytes", .int(info.byteCount)),
            ])
        }
        let types = totals.map { entry -> (String, JSONValue) in
            (entry.type.name, .object([
                ("tensors", .int(entry.total.tensors)), ("parameters", .int(entry.total.parameters)),
                ("bytes", .int(entry.total.bytes)), ("bits_per_weight", .double(entry.total.bitsPerWeight)),
            ]))
        }
        return JSONValue.object([
            ("format", .string("gguf")), ("version", .int(Int(file.version))), ("alignment", .int(file.alignment)),
            ("file_size", .int(file.fileSize)), ("data_offset", .int(file.dataOffset)),
            ("metadata", .object(metadata)), ("tensors", .array(tensors)),
            ("totals", .object([
                ("tensor_count", .int(file.tensors.count)), ("parameter_count", .int(file.parameterCount)),
                ("bytes", .int(tensorBytes)), ("types", .object(types)),
            ])),
        ]).serialized()
    }

    /// `{"type", "value"}`; for an array of more than ``arrayLimit`` items,
    /// `{"type", "item_type", "length", "head"}`.
    static func json(_ value: GGUFValue) throws -> JSONValue {
        guard let array = value.array else { return .object([("type", .string(value.type.name)), ("value", plain(value))]) }
        if array.count > arrayLimit {
            return .object([
                ("type", .string("ARRAY")), ("item_type", .string(array.elementType.name)), ("length", .int(array.count)),
                ("head", .array(try array.prefix(headLength).map(element))),
            ])
        }
        return .object([("type", .string("ARRAY")), ("item_type", .string(array.elementType.name)),
                        ("value", .array(try array.values().map(element)))])
    }

    /// An array's item: a scalar as itself, a nested array as ``json(_:)`` gives it.
    private static func element(_ value: GGUFValue) throws -> JSONValue {
        value.array == nil ? plain(value) : try json(value)
    }

    private static func plain(_ value: GGUFValue) -> JSONValue {
        switch value {
        case .float32(let v): .float(v)
        case .float64(let v): .double(v)
        case .bool(let v): .bool(v)
        case .string(let v): .string(v)
        case .uint64(let v): .number(String(v))
        case .array: .null
        default: value.int.map(JSONValue.int) ?? .null
        }
    }

    // MARK: Text

    func table() throws -> String {
        var lines: [String] = []
        let cells = file.tensors.map { info in
            [info.name, info.type.name, "[" + info.dimensions.map(String.init).joined(separator: ", ") + "]",
             String(info.byteCount), String(info.offset)]
        }
        lines += TextTable.render(header: ["name", "type", "shape (fastest first)", "bytes", "offset"], rows: cells,
                                  rightAligned: [3, 4])
        lines.append("")
        lines.append("gguf v\(file.version), \(formatBytes(file.fileSize)) (\(file.fileSize) bytes), alignment \(file.alignment), data at byte \(file.dataOffset)")
        let parameters = file.parameterCount
        let bits = parameters == 0 ? 0 : Double(tensorBytes * 8) / Double(parameters)
        lines.append("\(file.tensors.count) tensors, \(parameters) parameters, \(tensorBytes) bytes (\(formatBytes(tensorBytes))), \(Self.format(bits)) bits per weight")
        for (type, total) in totals {
            lines.append("  \(type): \(total.tensors) tensors, \(total.parameters) parameters, \(total.bytes) bytes (\(formatBytes(total.bytes))), \(Self.format(total.bitsPerWeight)) bits per weight")
        }
        if file.metadata.isEmpty {
            lines.append("metadata: none")
        } else {
            lines.append("metadata (\(file.metadata.count) keys):")
            for (key, value) in file.metadata { lines.append("  \(key) (\(try Self.typeName(value))): \(try Self.text(value))") }
        }
        return lines.joined(separator: "\n")
    }

    static func typeName(_ value: GGUFValue) throws -> String {
        guard let array = value.array else { return value.type.name }
        return "ARRAY of \(array.count) \(array.elementType.name)"
    }

    static func text(_ value: GGUFValue) throws -> String {
        guard let array = value.array else {
            if case .string(let text) = value { return quoted(text) }
            return value.description
        }
        let shown = try array.prefix(array.count > arrayLimit ? headLength : arrayLimit).map(text)
        return "[" + shown.joined(separator: ", ") + (array.count > shown.count ? ", … \(array.count - shown.count) more]" : "]")
    }

    /// A string in double quotes, control characters escaped as JSON would.
    static func quoted(_ text: String) -> String { JSONValue.string(text).serialized() }

    static func format(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = String(hundredths % 100)
        return "\(hundredths / 100).\(fraction.count == 1 ? "0" : "")\(fraction)"
    }
}
