import Foundation
import Testing
import Weights
import WeightsFuzzHarness

/// Every input a fuzzer ever crashed on (`Fixtures/fuzz/<target>/`, minimized) is replayed
/// through the same harness the fuzzer ran: it must now be read, or rejected with a
/// `WeightsError` that names the file — never a crash, never a broken promise.
@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz").path

    /// (target, file) for every kept input.
    static let inputs: [(String, String)] = FuzzHarness.targets.flatMap { target in
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + target)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().map { (target, $0) }
    }

    @Test func everyTargetHasAFolderOfInputs() {
        for target in FuzzHarness.targets {
            var isDirectory: ObjCBool = false
            unsafe #expect(FileManager.default.fileExists(atPath: Self.root + "/" + target, isDirectory: &isDirectory) && isDirectory.boolValue,
                    "Fixtures/fuzz/\(target) is missing")
        }
    }

    @Test(arguments: inputs) func keptInputIsReadOrRejected(target: String, name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.root + "/" + target + "/" + name)))
        do {
            unsafe try bytes.withUnsafeBytes { unsafe try FuzzHarness.run(target, $0) }
        } catch let error as WeightsError {
            #expect(error.file != nil, "\(target)/\(name): \(error)")
        } catch {
            Issue.record("\(target)/\(name): \(error)")
        }
    }

    /// The harnesses themselves: the valid fixtures pass them without a finding, so a harness
    /// that rejected everything would not go unnoticed.
    @Test func validFixturesPassTheHarnesses() throws {
        let fixtures = URL(fileURLWithPath: Self.root).deletingLastPathComponent().path
        for name in ["dtype_F32.safetensors", "hand_all_dtypes.safetensors", "model_bert_tiny.safetensors"] {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixtures + "/safetensors/valid/" + name)))
            unsafe try bytes.withUnsafeBytes { unsafe try FuzzHarness.run("safetensors", $0) }
        }
        let index = #"{"metadata": {"total_size": 20}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}"#
        unsafe try Array(index.utf8).withUnsafeBytes { unsafe try FuzzHarness.run("shard-index", $0) }
        let line = String(repeating: "ab", count: 32) + "  some/file.bin\n"
        unsafe try Array(line.utf8).withUnsafeBytes { unsafe try FuzzHarness.run("manifest", $0) }
        for name in ["config.json", "model.safetensors"] {
            let selector = UInt8(try #require(FuzzHarness.modelFiles.firstIndex(of: name)))
            let input = [selector] + (try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixtures + "/tiny-bert/" + name))))
            unsafe try input.withUnsafeBytes { unsafe try FuzzHarness.run("model-directory", $0) }
        }
        // A vocab.txt directory (the harness removes tokenizer.json for these selectors).
        let vocabularyInputs: [(String, String)] = [
            ("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##lo\n"),
            ("tokenizer_config.json", #"{"do_lower_case": false}"#),
            ("special_tokens_map.json", #"{"unk_token": {"content": "[UNK]"}, "cls_token": "[CLS]"}"#),
        ]
        for (name, text) in vocabularyInputs {
            let selector = UInt8(try #require(FuzzHarness.modelFiles.firstIndex(of: name)))
            unsafe try ([selector] + Array(text.utf8)).withUnsafeBytes { unsafe try FuzzHarness.run("model-directory", $0) }
        }
        let seeds = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-seeds-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: seeds, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: seeds) }
        #expect(try FuzzHarness.writeCompressedSeeds(to: seeds) > 0)
        for name in try FileManager.default.contentsOfDirectory(atPath: seeds) {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: seeds + "/" + name)))
            unsafe try bytes.withUnsafeBytes { unsafe try FuzzHarness.run("compressed", $0) }
        }
    }
}
