import Foundation
import Testing
import Weights

import WeightsPlatform

/// Files truncated while a streaming command reads them: exit 1 and an error naming the file,
/// never SIGBUS (exit 135), and no output file or temporary left behind.
///
/// Each test makes a large sparse file (cheap: ftruncate), starts the command, waits until
/// /proc/PID/maps shows the file mapped (so the command has opened it, taken its size and is
/// reading), then truncates it to half. A command that has already finished (exit 0) is
/// retried; it never has here, as reading the file takes far longer than the 1 ms poll.
@Suite(.serialized) struct ChangingFileTests {
    /// A safetensors file of `count` F32 (or U8) tensors of `tensorBytes` each, all zeros, sparse.
    static func sparseFile(at path: String, count: Int, tensorBytes: Int, bytes: Bool = false) throws {
        var entries: [String] = []
        for index in 0..<count {
            entries.append("\"t\(String(format: "%03d", index))\":{\"dtype\":\"\(bytes ? "U8" : "F32")\",\"shape\":[\(tensorBytes / (bytes ? 1 : 4))],"
                + "\"data_offsets\":[\(index * tensorBytes),\((index + 1) * tensorBytes)]}")
        }
        var json = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var bytes = unsafe withUnsafeBytes(of: UInt64(json.count).littleEndian) { unsafe Array($0) }
        bytes += json
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        unsafe #expect(truncate(path, off_t(bytes.count + count * tensorBytes)) == 0)
    }

    static func fileSize(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
    }

    /// Runs `weights arguments`, truncating `file` to half its size once the command has it
    /// mapped. Returns the result and whether the truncation happened while it ran.
    static func runTruncating(_ arguments: [String], file: String) throws -> (CommandResult, raced: Bool) {
        let size = fileSize(file)
        let process = Process()
        process.executableURL = try weightsExecutable()
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var raced = false
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < deadline {
            // Read to the end: /proc files report size 0, and a one-read helper may stop early.
            let handle = FileHandle(forReadingAtPath: "/proc/\(process.processIdentifier)/maps")
            let maps = String(decoding: handle?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
            try? handle?.close()
            if maps.contains(file) {
                raced = unsafe truncate(file, off_t(size / 2)) == 0
                break
            }
            usleep(1000)
        }
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let result = CommandResult(status: process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus,
                                   standardOutput: String(decoding: outData, as: UTF8.self),
                                   standardError: String(decoding: errData, as: UTF8.self))
        return (result, raced)
    }

    /// Makes the input with `prepare`, runs the command while truncating `file`, and checks the
    /// outcome; up to 3 tries when the command wins the race.
    static func expectChangedFileError(
        _ arguments: @escaping (String) -> [String], file name: String, message: KeyPath<CommandResult, String> = \.standardError,
        outputs: [String] = [], prepare: (String) throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        for _ in 0..<3 {
            let directory = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try prepare(directory)
            let file = directory + "/" + name
            let (result, raced) = try runTruncating(arguments(directory), file: file)
            #expect(result.status != 135, "SIGBUS: \(result.standardError)", sourceLocation: sourceLocation)
            guard raced, result.status != 0 else { continue }
            #expect(result.status == 1, "\(result.standardError)", sourceLocation: sourceLocation)
            // One line names the file first and says what happened: `error: FILE: [tensor 'x': ]the
            // file changed …`, or verify's `FILE: FAILED (the file changed …)`.
            let lines = result[keyPath: message].split(separator: "\n")
            #expect(lines.contains { ($0.hasPrefix("\(file): ") || $0.hasPrefix("error: \(file): "))
                                     && $0.contains("the file changed while it was read") },
                    "\(result.standardOutput)\(result.standardError)", sourceLocation: sourceLocation)
            for output in outputs {
                #expect(!FileManager.default.fileExists(atPath: directory + "/" + output), "\(output) was written",
                        sourceLocation: sourceLocation)
            }
            let hidden = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".") }
            #expect(hidden.isEmpty, "temporaries left: \(hidden)", sourceLocation: sourceLocation)
            return
        }
        Issue.record("the command finished before the file was truncated, three times", sourceLocation: sourceLocation)
    }

    /// 2 GiB in 64 tensors of 32 MiB.
    static func large(_ directory: String) throws {
        try sparseFile(at: directory + "/big.safetensors", count: 64, tensorBytes: 32 << 20)
    }

    @Test func hash() throws {
        try Self.expectChangedFileError({ ["hash", $0 + "/big.safetensors"] }, file: "big.safetensors", prepare: Self.large)
    }

    /// One 2 GiB tensor: the hash reads on past the new end of the file, through pages the
    /// file no longer has (the SIGBUS case).
    @Test func hashTensorsReadingPastTheNewEnd() throws {
        try Self.expectChangedFileError({ ["hash", "--tensors", $0 + "/big.safetensors"] }, file: "big.safetensors") {
            try Self.sparseFile(at: $0 + "/big.safetensors", count: 1, tensorBytes: 2 << 30)
        }
    }

    @Test func hashTensors() throws {
        try Self.expectChangedFileError({ ["hash", "--tensors", $0 + "/big.safetensors"] }, file: "big.safetensors",
                                        prepare: Self.large)
    }

    @Test func verify() throws {
        try Self.expectChangedFileError({ ["verify", $0 + "/big.safetensors", "--sha256", String(repeating: "0", count: 64)] },
                                        file: "big.safetensors", message: \.standardOutput, prepare: Self.large)
    }

    @Test func manifest() throws {
        try Self.expectChangedFileError({ ["manifest", $0 + "/big.safetensors"] }, file: "big.safetensors", prepare: Self.large)
    }

    @Test func convert() throws {
        try Self.expectChangedFileError({ ["convert", $0 + "/big.safetensors", $0 + "/out.safetensors"] },
                                        file: "big.safetensors", outputs: ["out.safetensors"], prepare: Self.large)
    }

    @Test func convertToF16() throws {
        try Self.expectChangedFileError({ ["convert", $0 + "/big.safetensors", $0 + "/out.safetensors", "--dtype", "f16"] },
                                        file: "big.safetensors", outputs: ["out.safetensors"], prepare: Self.large)
    }

    @Test func compress() throws {
        try Self.expectChangedFileError({ ["compress", $0 + "/big.safetensors", $0 + "/out.wzst"] },
                                        file: "big.safetensors", outputs: ["out.wzst"], prepare: Self.large)
    }

    @Test func decompress() throws {
        try Self.expectChangedFileError({ ["decompress", $0 + "/in.wzst", $0 + "/out.safetensors"] },
                                        file: "in.wzst", outputs: ["out.safetensors"]) { directory in
            // U8: no byte planes, so the debug build compresses it in well under a second.
            try Self.sparseFile(at: directory + "/small.safetensors", count: 8, tensorBytes: 32 << 20, bytes: true)
            let made = try runWeights(["compress", directory + "/small.safetensors", directory + "/in.wzst"])
            #expect(made.status == 0, "\(made.standardError)")
        }
    }

    @Test func diff() throws {
        try Self.expectChangedFileError({ ["diff", $0 + "/big.safetensors", $0 + "/other.safetensors"] },
                                        file: "big.safetensors") { directory in
            try Self.large(directory)
            try Self.sparseFile(at: directory + "/other.safetensors", count: 64, tensorBytes: 32 << 20)
        }
    }
}
