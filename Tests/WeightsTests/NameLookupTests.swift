import Testing
import Weights

/// Lookup by name, for both ways a file's names can be found: bisection when the tensors are
/// listed as a few runs sorted by name (the reference writer's layout: one run per dtype), a
/// hash table when they are not.
@Suite struct NameLookupTests {
    /// The bytes of a file of one-byte U8 tensors named `names`, in that data order; tensor *i*
    /// holds *i*.
    static func bytes(_ names: [String]) -> [UInt8] {
        let entries = names.enumerated().map { position, name in
            "\(CanonicalJSON.string(name)):{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[\(position),\(position + 1)]}"
        }
        return fileBytes(json: "{" + entries.joined(separator: ",") + "}", data: names.indices.map { UInt8($0) })
    }

    static func file(_ names: [String]) throws -> SafetensorsFile { try SafetensorsFile(bytes: bytes(names)) }

    static let sorted = ["a", "a.b", "b", "e\u{301}", "layer.10", "layer.2", "\u{E9}"]

    /// Sorted, but with names the header spells with escapes.
    static let escaped = ["a\"", "b\\", "c\n", "d"]

    /// Two runs, as the reference writes a file of two dtypes.
    static let twoRuns = ["b.bias", "c.bias", "e\u{301}", "a.weight", "b.weight", "\u{E9}"]
    /// Four runs, the most searched by bisection; five, the fewest that get a hash table.
    static let fourRuns = ["layer.2", "a", "\u{E9}", "b", "e\u{301}", "layer.10", "a.b"]
    static let fiveRuns = ["d", "c", "b", "a", "e", "a.b"]

    @Test(arguments: [sorted, sorted.reversed(), escaped, escaped.reversed(), twoRuns, fourRuns, fiveRuns])
    func everyNameIsFoundAtItsOwnTensor(names: [String]) throws {
        let file = try Self.file(names)
        for (position, name) in names.enumerated() {
            #expect(try file.tensor(named: name).copyBytes() == [UInt8(position)], "\(name)")
            #expect(file.info(named: name)?.name.utf8.elementsEqual(name.utf8) == true)
        }
    }

    @Test(arguments: [sorted, sorted.reversed(), twoRuns, fourRuns])
    func absentNamesAreNotFound(names: [String]) throws {
        let file = try Self.file(names)
        // Before the first, between neighbours, after the last, a prefix, an extension.
        for absent in ["", "0", "a.a", "a.c", "c", "e", "layer.1", "layer.20", "\u{E9}\u{E9}", "\u{FF}"] {
            #expect(!file.contains(absent), "\(absent)")
            #expect(file[absent] == nil)
            #expect(throws: WeightsError.self) { try file.tensor(named: absent) }
        }
    }

    @Test func aNameSpelledWithAnEscapeIsTheSameName() {
        let json = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
            + "\"\\u0061\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}"
        let error = readError(fileBytes(json: json, data: [1, 2]))
        #expect(error?.code == .duplicateTensorName)
        #expect(error?.tensor == "a")
    }

    @Test func anEmptyFileFindsNothing() throws {
        let file = try Self.file([])
        #expect(!file.contains(""))
        #expect(!file.contains("a"))
    }

    @Test(arguments: [["a", "a"], ["a", "b", "a"], ["b", "a", "b"], ["a", "b", "c", "c"], ["\u{E9}", "e\u{301}", "\u{E9}"],
                      ["a", "c", "e", "b", "d", "e"], ["b", "a", "d", "c", "f", "e", "h", "g", "c"],
                      ["c", "b", "a", "a"]])
    func aNameListedTwiceIsRefusedWhereverItIs(names: [String]) {
        let error = readError(Self.bytes(names))
        #expect(error?.code == .duplicateTensorName)
        let twice = names.first { name in names.filter { $0.utf8.elementsEqual(name.utf8) }.count > 1 }!
        #expect(error?.tensor?.utf8.elementsEqual(twice.utf8) == true)
    }
}
