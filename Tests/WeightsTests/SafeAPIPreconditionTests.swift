import Testing
import Weights
import WeightsPlatform
import WeightsTestSupport

/// Safe APIs that take a caller's description of a tensor must not read outside the file: an
/// entry that does not fit traps (a checked stop) instead of reading past the mapping. Each
/// case runs in a child process (an exit test) and must end by the trap's signal (SIGILL on
/// x86-64: a thrown error or a read past the mapping would end otherwise); the valid entry
/// next to it reads normally.
@Suite struct SafeAPIPreconditionTests {
    /// How a Swift trap ends a process (``trapSignal``).
    static let trap = ExitTest.Condition.signal(trapSignal)

    static func file() throws -> SafetensorsFile {
        let tensor = try Tensor(name: "w", shape: [4], elements: [Float](repeating: 1, count: 4))
        return try SafetensorsFile(bytes: SafetensorsWriter.serialize([tensor], metadata: nil))
    }

    @Test func aHeaderEntryOfTheFileReads() throws {
        let file = try Self.file()
        #expect(try file.tensor(file.tensors[0]).floats() == [1, 1, 1, 1])
    }

    @Test func anEntryPastTheEndOfTheFileTraps() async {
        await #expect(processExitsWith: Self.trap) {
            let file = try Self.file()
            let made = TensorInfo(name: "w", dtype: .f32, shape: [1 << 20], dataOffsets: 0..<(4 << 20))
            _ = try file.tensor(made).floats()
        }
    }

    @Test func anEntryWhoseShapeNeedsMoreBytesThanItsOffsetsSpanTraps() async {
        await #expect(processExitsWith: Self.trap) {
            let file = try Self.file()
            // Offsets inside the file, but a shape of 1 Mi floats: floats() would read 4 MiB.
            let made = TensorInfo(name: "w", dtype: .f32, shape: [1 << 20], dataOffsets: 0..<16)
            _ = try file.tensor(made).floats()
        }
    }

    static func gguf() throws -> GGUFFile {
        var builder = GGUFBuilder()
        builder.tensor("a", dimensions: [4])
        return try GGUFFile(bytes: builder.bytes())
    }

    @Test func aGGUFEntryOfTheFileReads() throws {
        let file = try Self.gguf()
        #expect(file.tensor(file.tensors[0]).copyBytes().count == 16)
    }

    @Test func aGGUFEntryOutsideTheFileTraps() async {
        await #expect(processExitsWith: Self.trap) {
            let file = try Self.gguf()
            var made = file.tensors[0]
            made.offset = file.fileSize
            _ = file.tensor(made).copyBytes()
        }
    }

    /// Bytes inside the file, but 1 Mi elements claimed: dequantizing would read 4 MiB.
    @Test func aGGUFEntryClaimingMoreElementsThanItsBytesTraps() async {
        await #expect(processExitsWith: Self.trap) {
            let file = try Self.gguf()
            var made = file.tensors[0]
            made.elementCount = 1 << 20
            _ = try file.tensor(made).dequantized()
        }
    }
}
