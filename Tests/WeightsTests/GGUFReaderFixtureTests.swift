import Foundation
import Testing
import Weights
import WeightsTestSupport

/// The reader against files made outside Swift (Fixtures/gguf/make_reader_fixtures.py): one
/// malformed file per reader rule, a big-endian file and a split set written by gguf-py.
@Suite struct GGUFReaderFixtureTests {
    struct Expectation: Decodable {
        var file: String
        var rule: Int
        var code: String
        var mentions: String
    }

    static let expectations: [Expectation] = {
        let path = packagePath("Fixtures/gguf/malformed/expected.json")
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return (try? JSONDecoder().decode([Expectation].self, from: data)) ?? []
    }()

    static func error(_ path: String) -> WeightsError? {
        do { _ = try GGUFFile(path: path) } catch let error as WeightsError { return error } catch { return nil }
        return nil
    }

    /// Every rule of Spec/gguf.md §2 has a file, and each file is refused with its code, naming
    /// the file and what the rule is about.
    @Test func eachMalformedFileRaisesItsRulesError() throws {
        #expect(Set(Self.expectations.map(\.rule)) == Set(1...21))
        #expect(try GGUFFile(path: packagePath("Fixtures/gguf/malformed/base.gguf")).tensors.map(\.name) == ["a", "b"])
        for expectation in Self.expectations {
            let path = packagePath("Fixtures/gguf/malformed/" + expectation.file)
            let error = Self.error(path)
            #expect(error?.code.rawValue == expectation.code, "\(expectation.file): \(String(describing: error))")
            #expect(error?.file == path, "\(expectation.file)")
            #expect(error?.description.contains(expectation.mentions) == true, "\(expectation.file): \(String(describing: error))")
        }
    }

    @Test func gguPyBigEndianFileIsRefusedByName() {
        let error = Self.error(packagePath("Fixtures/gguf/big-endian.gguf"))
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.reason.contains("big-endian") == true)
    }

    /// gguf-py's split writer (`split_max_tensors=2`): any shard opens the set of three, its
    /// five tensors in order, with their values.
    @Test func gguPySplitSetOpensAsOne() throws {
        let directory = packagePath("Fixtures/gguf/split") + "/"
        let paths = (1...3).map { directory + "model-0000\($0)-of-00003.gguf" }
        let files = try paths.map { try GGUFFile(path: $0) }
        for path in paths {
            let source = try #require(try Checkpoint.open(path) as? GGUFSplitSource, "\(path)")
            #expect(source.shards.count == 3)
            #expect(source.tensors.map(\.name) == ["t0", "t1", "t2", "t3", "t4"])
            for file in files {
                for info in file.tensors {
                    #expect(try source.tensor(named: info.name).floats() == file.tensor(info).dequantized(), "\(info.name)")
                }
            }
        }
        #expect(files.map { $0.tensors.count } == [2, 2, 1])
        #expect(files[1].tensorInfo(named: "t3")?.type == .q8_0)
    }
}
