import Foundation
import Testing
import Weights

/// `weights convert --dtype`, run as a subprocess on the conversion fixtures.
@Suite("weights convert --dtype")
struct ConvertDTypeTests {
    private struct Run {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private static func fixture(_ name: String) -> String {
        root.appendingPathComponent("Fixtures/conversion/\(name)").path
    }

    private static func executable() throws -> URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("weights")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        #if DEBUG
        let built = root.appendingPathComponent(".build/debug/weights")
        #else
        let built = root.appendingPathComponent(".build/release/weights")
        #endif
        try #require(FileManager.default.isExecutableFile(atPath: built.path), "build the weights executable first: \(built.path)")
        return built
    }

    private static func weights(_ arguments: String...) throws -> Run { try run(arguments) }

    private static func run(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Read before waiting, so a large output cannot fill the pipe and stall the child.
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, standardOutput: String(decoding: outData, as: UTF8.self),
                   standardError: String(decoding: errData, as: UTF8.self))
    }

    private static func temporaryFile(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("weights-dtype-\(UUID().uuidString)-\(name)").path
    }

    @Test("--dtype f16 writes numpy's bytes and warns about each overflowing tensor on stderr")
    func float16() throws {
        let output = Self.temporaryFile("f16.safetensors")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let run = try Self.weights("convert", Self.fixture("source.safetensors"), output, "--dtype", "f16")
        #expect(run.status == 0)
        #expect(FileManager.default.contents(atPath: output) == FileManager.default.contents(atPath: Self.fixture("expected_f16.safetensors")))
        #expect(run.standardError.contains("warning:") && run.standardError.contains("tensor 'edges': 6 finite values overflowed to infinity in F16"))
        #expect(run.standardOutput.isEmpty)
    }

    @Test("--dtype int8 writes the numpy rendering; --dtype f32 on it dequantizes")
    func int8AndBack() throws {
        let quantized = Self.temporaryFile("int8.safetensors"), restored = Self.temporaryFile("f32.safetensors")
        defer {
            try? FileManager.default.removeItem(atPath: quantized)
            try? FileManager.default.removeItem(atPath: restored)
        }
        #expect(try Self.weights("convert", Self.fixture("source.safetensors"), quantized, "--dtype", "int8").status == 0)
        #expect(FileManager.default.contents(atPath: quantized) == FileManager.default.contents(atPath: Self.fixture("expected_int8.safetensors")))
        #expect(try Self.weights("convert", quantized, restored, "--dtype", "f32").status == 0)
        #expect(FileManager.default.contents(atPath: restored)
            == FileManager.default.contents(atPath: Self.fixture("expected_int8_to_f32.safetensors")))
    }

    @Test("--report prints one row per converted tensor; --json one object")
    func report() throws {
        let output = Self.temporaryFile("bf16.safetensors")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let table = try Self.weights("convert", Self.fixture("source.safetensors"), output, "--dtype", "int8", "--report")
        #expect(table.status == 0)
        let lines = table.standardOutput.split(separator: "\n")
        #expect(lines.first?.hasPrefix("name") == true && lines.first?.contains("cosine") == true)
        #expect(lines.contains { $0.hasPrefix("encoder.weight ") && $0.contains(" F32 ") && $0.contains(" I8 ") })
        #expect(table.standardOutput.contains("6 tensors converted, 0 overflows"))

        let json = try Self.weights("convert", Self.fixture("source.safetensors"), output, "--dtype", "bf16", "--report", "--json")
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        let tensors = try #require(object?["tensors"] as? [[String: Any]])
        #expect(Set(tensors.compactMap { $0["name"] as? String })
            == ["edges", "encoder.weight", "conv.weight", "encoder.bias", "scalar", "empty", "double.weight", "half.weight"])
        let bias = try #require(tensors.first { $0["name"] as? String == "encoder.bias" })
        #expect(bias["dtype"] as? String == "BF16" && bias["source_dtype"] as? String == "F32")
        #expect((bias["cosine"] as? Double).map { $0 > 0.9999 && $0 <= 1 } == true)
        #expect((bias["sqnr_db"] as? Double).map { $0 > 40 } == true)
    }

    @Test("Bad options and inputs fail with a message and no output", arguments: [
        (["--dtype", "f8"], "unknown dtype 'f8'"),
        (["--report"], "--report needs --dtype"),
        (["--dtype", "f16", "--json"], "--json needs --report"),
    ])
    func badOptions(arguments: [String], message: String) throws {
        let output = Self.temporaryFile("never.safetensors")
        let run = try Self.run(["convert", Self.fixture("source.safetensors"), output] + arguments)
        #expect(run.status != 0)
        #expect(run.standardError.contains(message), "\(run.standardError)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("--dtype with --shard-size writes converted shards, warns and reports")
    func sharded() throws {
        let directory = Self.temporaryFile("shards")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try Self.weights("convert", Self.fixture("source.safetensors"), directory, "--dtype", "f16",
                                   "--shard-size", "12000", "--report", "--json")
        #expect(run.status == 0)
        #expect(run.standardError.contains("tensor 'edges': 6 finite values overflowed to infinity in F16"))
        #expect(run.standardOutput.contains("\"name\":\"edges\""))
        let shards = try Checkpoint.open(directory)
        let expected = try SafetensorsFile(path: Self.fixture("expected_f16.safetensors"))
        #expect(shards.tensors.count == expected.tensors.count)
        for info in expected.tensors {
            #expect(try shards.tensor(named: info.name).copyBytes() == expected.tensor(named: info.name).copyBytes())
        }
    }

    @Test("INT8 of a tensor holding NaN names the file, tensor and row")
    func nanRow() throws {
        let source = Self.temporaryFile("nan.safetensors"), output = Self.temporaryFile("never.safetensors")
        defer { try? FileManager.default.removeItem(atPath: source) }
        try SafetensorsWriter.write([Tensor(name: "w", shape: [2, 2], elements: [1, 2, 3, .nan] as [Float])], metadata: nil, to: source)
        let run = try Self.weights("convert", source, output, "--dtype", "int8")
        #expect(run.status == 1)
        #expect(run.standardError.hasPrefix("error: \(source): tensor 'w' row 1 holds NaN or infinity"))
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
