import Weights
import WeightsEngine

/// Prints vectors as lines of numbers, or as one JSON array, as they come.
struct VectorPrinter {
    let json: Bool
    private var count = 0

    init(json: Bool) { self.json = json }

    mutating func print(_ vector: [Float]) {
        if json {
            Swift.print(count == 0 ? "[" : ",", terminator: "")
            Swift.print(JSONValue.array(vector.map(JSONValue.float)).serialized(), terminator: "\n")
        } else {
            Swift.print(vector.map { "\($0)" }.joined(separator: " "))
        }
        count += 1
    }

    func finish() {
        if json { Swift.print(count == 0 ? "[]" : "]") }
    }
}
