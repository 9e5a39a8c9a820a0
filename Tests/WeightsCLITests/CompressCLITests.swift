import Foundation
import Testing
import Weights

/// Runs the built `weights` binary, found next to the test bundle.
enum CompressCLI {
    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    static var binary: String {
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return bundle.deletingLastPathComponent().appendingPathComponent("weights").path
    }

    static func run(_ arguments: String...) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, standardOutput: String(decoding: out, as: UTF8.self),
                      standardError: String(decoding: err, as: UTF8.self))
    }

    /// A temporary directory holding a small safetensors file, `in.safetensors`, with an
    /// F32, a BF16 and an I64 tensor.
    static func fixture() throws -> String {
        let directory = NSTemporaryDirectory() + "/weights-compress-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let values = (0..<20000).map { Float(sin(Double($0) * 0.37)) * 0.05 }
        try SafetensorsWriter.write([
            try Tensor(name: "layer.weight", shape: [100, 200], elements: values),
            try Tensor(name: "layer.bf16", shape: [20000], elements: values.map(BFloat16.init)),
            try Tensor(name: "ids", shape: [4], elements: [1, 2, 3, 4] as [Int64]),
        ], metadata: ["format": "pt"], to: directory + "/in.safetensors")
        return directory
    }
}

@Suite("weights compress / decompress")
struct CompressCLITests {
    @Test("compress then decompress restores the file; stderr stays empty off a terminal")
    func roundTrip() throws {
        let directory = try CompressCLI.fixture()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let compress = try CompressCLI.run("compress", directory + "/in.safetensors", directory + "/m.wzst",
                                           "--level", "3", "--threads", "2", "--chunk-size", "64KiB")
        #expect(compress.status == 0, "\(compress.standardError)")
        #expect(compress.standardOutput.hasPrefix(directory + "/m.wzst: ") && compress.standardOutput.contains("x) in "))
        #expect(compress.standardError.isEmpty)
        #expect(try CompressedFile(path: directory + "/m.wzst").chunkSize == 65536)
        let decompress = try CompressCLI.run("decompress", directory + "/m.wzst", directory + "/out.safetensors")
        #expect(decompress.status == 0 && decompress.standardError.isEmpty, "\(decompress.standardError)")
        #expect(try SHA256Digest.file(at: directory + "/out.safetensors") == SHA256Digest.file(at: directory + "/in.safetensors"))
        let fast = try CompressCLI.run("decompress", "--no-verify", "--threads", "1", directory + "/m.wzst", directory + "/fast.safetensors")
        #expect(fast.status == 0)
        #expect(try SHA256Digest.file(at: directory + "/fast.safetensors") == SHA256Digest.file(at: directory + "/in.safetensors"))
        // --no-sync skips the fsync only: the same container, still renamed into place whole.
        let unsynced = try CompressCLI.run("compress", "--no-sync", "--level", "3", "--threads", "2", "--chunk-size", "64KiB",
                                           directory + "/in.safetensors", directory + "/unsynced.wzst")
        #expect(unsynced.status == 0, "\(unsynced.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/unsynced.wzst"))
                == Data(contentsOf: URL(fileURLWithPath: directory + "/m.wzst")))
    }

    @Test("inspect shows each tensor's compressed size and ratio; --json adds compressed_size")
    func inspect() throws {
        let directory = try CompressCLI.fixture()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try CompressCLI.run("compress", directory + "/in.safetensors", directory + "/m.wzst").status == 0)
        let container = try CompressedFile(path: directory + "/m.wzst")
        let table = try CompressCLI.run("inspect", directory + "/m.wzst")
        #expect(table.status == 0)
        let lines = table.standardOutput.split(separator: "\n").map(String.init)
        let columns = lines.first?.split(separator: " ").map(String.init)
        #expect(columns == ["name", "dtype", "shape", "bytes", "offset", "compressed", "ratio"])
        for entry in container.compressedTensors {
            let row = try #require(lines.first { $0.hasPrefix(entry.name + " ") })
            #expect(row.contains(" \(entry.compressedSize) "), "\(row)")
        }
        // The fixture has F32 weights, which take exponent windows: format version 3.
        #expect(container.formatVersion == 3)
        #expect(table.standardOutput.contains("weights-compressed v3, "))

        let json = try CompressCLI.run("inspect", "--json", directory + "/m.wzst")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "weights-compressed")
        #expect(object["format_version"] as? Int == 3)
        #expect(object["file_size"] as? Int == container.fileSize)
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.map { $0["name"] as? String } == container.compressedTensors.map(\.name))
        #expect(tensors.map { $0["compressed_size"] as? Int } == container.compressedTensors.map(\.compressedSize))
    }

    @Test("hash --tensors and convert read a container as they read the plain file")
    func otherCommandsReadContainers() throws {
        let directory = try CompressCLI.fixture()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try CompressCLI.run("compress", directory + "/in.safetensors", directory + "/m.wzst").status == 0)
        let plain = try CompressCLI.run("hash", "--tensors", directory + "/in.safetensors")
        let packed = try CompressCLI.run("hash", "--tensors", directory + "/m.wzst")
        #expect(packed.status == 0 && !plain.standardOutput.isEmpty)
        #expect(packed.standardOutput == plain.standardOutput)
        let convert = try CompressCLI.run("convert", directory + "/m.wzst", directory + "/converted.safetensors")
        #expect(convert.status == 0, "\(convert.standardError)")
        // The fixture was written canonically, so converting gives the same bytes back.
        #expect(try SHA256Digest.file(at: directory + "/converted.safetensors") == SHA256Digest.file(at: directory + "/in.safetensors"))
    }

    @Test("errors name the file and tensor, exit 1, and leave no output")
    func errors() throws {
        let directory = try CompressCLI.fixture()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try CompressCLI.run("compress", directory + "/in.safetensors", directory + "/m.wzst").status == 0)
        let container = try CompressedFile(path: directory + "/m.wzst")
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/m.wzst")))
        let bf16Start = container.compressedTensors.prefix { $0.name != "layer.bf16" }.reduce(16) { $0 + $1.compressedSize }
        bytes[bf16Start + 40] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/bad.wzst"))

        let corrupt = try CompressCLI.run("decompress", directory + "/bad.wzst", directory + "/out.safetensors")
        #expect(corrupt.status == 1)
        #expect(corrupt.standardError.hasPrefix("error: \(directory)/bad.wzst: tensor 'layer.bf16'"), "\(corrupt.standardError)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/out.safetensors"))

        let level = try CompressCLI.run("compress", "--level", "40", directory + "/in.safetensors", directory + "/x.wzst")
        #expect(level.status == 1 && level.standardError.contains("compression level 40"), "\(level.standardError)")
        let notPlain = try CompressCLI.run("compress", directory + "/m.wzst", directory + "/x.wzst")
        #expect(notPlain.status == 1 && notPlain.standardError.hasPrefix("error: \(directory)/m.wzst: "))
        let notContainer = try CompressCLI.run("decompress", directory + "/in.safetensors", directory + "/x.safetensors")
        #expect(notContainer.status == 1 && notContainer.standardError.contains("not a weights-compressed container"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/x.wzst"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/x.safetensors"))
    }
}
