import ArgumentParser
import Weights

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare the tensors of two models: names, dtypes, shapes and values.",
        discussion: """
            Lists tensors only in A and only in B, changes of dtype or shape, and for common \
            tensors the number of differing elements and the largest absolute difference, \
            comparing values across dtypes. Layout does not matter: a plain, sharded or \
            compressed copy of one model diff as identical. Exits 0 when the content is \
            identical, 1 otherwise.
            """
    )

    @Argument(help: "The first model.") var a: String
    @Argument(help: "The second model.") var b: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let diff = try WeightsError.tagging(file: a) { try TensorDiff.compare(openSource(a), openSource(b)) }
        print(json ? Self.json(diff) : Self.text(diff, a: a, b: b))
        if !diff.isIdentical { throw ExitCode(1) }
    }

    static func text(_ diff: TensorDiff, a: String, b: String) -> String {
        if diff.isIdentical { return "identical: same tensors, dtypes, shapes and values" }
        var lines: [String] = []
        for info in diff.onlyInA { lines.append("only in \(a): \(info.name) \(info.dtype) \(info.shape)") }
        for info in diff.onlyInB { lines.append("only in \(b): \(info.name) \(info.dtype) \(info.shape)") }
        for change in diff.changes {
            var parts: [String] = []
            if change.dtypes.0 != change.dtypes.1 { parts.append("dtype \(change.dtypes.0) -> \(change.dtypes.1)") }
            if change.shapes.0 != change.shapes.1 { parts.append("shape \(change.shapes.0) -> \(change.shapes.1)") }
            if let differing = change.differingElements {
                let total = change.shapes.0.reduce(1, *)
                parts.append("\(differing) of \(total) elements differ")
                if let largest = change.maxAbsDifference, differing > 0 { parts.append("max abs difference \(largest)") }
            }
            lines.append("changed: \(change.name): " + parts.joined(separator: ", "))
        }
        lines.append("\(diff.onlyInA.count) only in A, \(diff.onlyInB.count) only in B, \(diff.changes.count) changed")
        return lines.joined(separator: "\n")
    }

    static func json(_ diff: TensorDiff) -> String {
        func shape(_ dims: [Int]) -> JSONValue { .array(dims.map(JSONValue.int)) }
        func info(_ tensor: TensorInfo) -> JSONValue {
            .object([("name", .string(tensor.name)), ("dtype", .string(tensor.dtype.rawValue)), ("shape", shape(tensor.shape))])
        }
        let changes = diff.changes.map { change -> JSONValue in
            .object([
                ("name", .string(change.name)),
                ("dtype", .array([.string(change.dtypes.0.rawValue), .string(change.dtypes.1.rawValue)])),
                ("shape", .array([shape(change.shapes.0), shape(change.shapes.1)])),
                ("differing_elements", .optional(change.differingElements.map(JSONValue.int))),
                ("max_abs_difference", .optional(change.maxAbsDifference.map(JSONValue.double))),
            ])
        }
        return JSONValue.object([
            ("identical", .bool(diff.isIdentical)), ("only_in_a", .array(diff.onlyInA.map(info))),
            ("only_in_b", .array(diff.onlyInB.map(info))), ("changed", .array(changes)),
        ]).serialized()
    }
}
