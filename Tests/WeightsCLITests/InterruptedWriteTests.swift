import Foundation
import Testing
import Weights

import WeightsPlatform

/// Writes stopped by a signal: SIGINT and SIGTERM remove the hidden temporary and exit 130 and
/// 143; kill -9 at any point leaves the destination as it was or complete, never partial.
@Suite(.serialized) struct InterruptedWriteTests {
    struct Outcome {
        var exitStatus: Int32?      // nil when a signal ended the process
        var signal: Int32?
        var sawTemporary: Bool
    }

    /// The hidden temporaries of `output` in `directory`, with their sizes.
    static func temporaries(of output: String, in directory: String) -> [(name: String, size: Int)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix(".\(output).") }.map { name in
            (name, ChangingFileTests.fileSize(directory + "/" + name))
        }
    }

    /// Runs `weights arguments` and sends `signal` once a temporary of `output` exists and holds
    /// at least `bytes` bytes.
    static func run(_ arguments: [String], output: String, in directory: String, signal: Int32, after bytes: Int = 0) throws -> Outcome {
        let process = Process()
        process.executableURL = try weightsExecutable()
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var saw = false
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline {
            if let temporary = temporaries(of: output, in: directory).first, temporary.size >= bytes {
                saw = kill(process.processIdentifier, signal) == 0
                break
            }
            usleep(500)
        }
        process.waitUntilExit()
        return process.terminationReason == .exit
            ? Outcome(exitStatus: process.terminationStatus, signal: nil, sawTemporary: saw)
            : Outcome(exitStatus: nil, signal: process.terminationStatus, sawTemporary: saw)
    }

    /// A 256 MiB sparse input (8 tensors of 32 MiB), F32 or U8.
    static func input(_ directory: String, bytes: Bool = false) throws -> String {
        let path = directory + "/in.safetensors"
        try ChangingFileTests.sparseFile(at: path, count: 8, tensorBytes: 32 << 20, bytes: bytes)
        return path
    }

    /// SIGINT and SIGTERM during each writing command: the handler's exit status, no temporary,
    /// no destination. Retried when the command finishes before the signal.
    static func expectCleanInterrupt(_ arguments: (String) -> [String], output: String, signal: Int32,
                                     prepare: (String) throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for _ in 0..<3 {
            let directory = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try prepare(directory)
            let outcome = try run(arguments(directory), output: output, in: directory, signal: signal)
            guard outcome.sawTemporary, outcome.exitStatus != 0 else { continue }
            #expect(outcome.exitStatus == 128 + signal, "exit \(String(describing: outcome.exitStatus)), signal \(String(describing: outcome.signal))",
                    sourceLocation: sourceLocation)
            #expect(temporaries(of: output, in: directory).isEmpty, "the temporary is left", sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: directory + "/" + output), sourceLocation: sourceLocation)
            return
        }
        Issue.record("the command finished before the signal, three times", sourceLocation: sourceLocation)
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func convert(signal: Int32) throws {
        try Self.expectCleanInterrupt({ ["convert", $0 + "/in.safetensors", $0 + "/out.safetensors"] },
                                      output: "out.safetensors", signal: signal) { _ = try Self.input($0) }
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func convertToF16(signal: Int32) throws {
        try Self.expectCleanInterrupt({ ["convert", $0 + "/in.safetensors", $0 + "/out.safetensors", "--dtype", "f16"] },
                                      output: "out.safetensors", signal: signal) { _ = try Self.input($0) }
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func compress(signal: Int32) throws {
        try Self.expectCleanInterrupt({ ["compress", $0 + "/in.safetensors", $0 + "/out.wzst"] },
                                      output: "out.wzst", signal: signal) { _ = try Self.input($0) }
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func decompress(signal: Int32) throws {
        try Self.expectCleanInterrupt({ ["decompress", $0 + "/in.wzst", $0 + "/out.safetensors"] },
                                      output: "out.safetensors", signal: signal) { directory in
            let made = try runWeights(["compress", try Self.input(directory, bytes: true), directory + "/in.wzst"])
            #expect(made.status == 0, "\(made.standardError)")
        }
    }

    /// kill -9 at several points of a convert over an existing file: the destination is then
    /// the old file or the complete new one, never a partial write.
    @Test func killDuringConvertLeavesTheOldFileOrTheNewOne() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try Self.input(directory)
        let destination = directory + "/out.safetensors"
        let complete = try runWeights(["convert", input, destination])
        #expect(complete.status == 0, "\(complete.standardError)")
        let newDigest = try SHA256Digest.file(at: destination)
        let size = ChangingFileTests.fileSize(input)
        let old = Array("the old file".utf8)
        var outcomes: [String] = []
        for fraction in [0, 1, 2, 3] {
            #expect(FileManager.default.createFile(atPath: destination, contents: Data(old)))
            let outcome = try Self.run(["convert", input, destination], output: "out.safetensors", in: directory,
                                       signal: SIGKILL, after: size * fraction / 4)
            let now = try Data(contentsOf: URL(fileURLWithPath: destination))
            if Array(now) == old {
                outcomes.append("old")
            } else {
                #expect(try SHA256Digest.file(at: destination) == newDigest, "after kill -9 at \(fraction)/4: a partial file")
                outcomes.append("new")
            }
            if outcome.sawTemporary { #expect(outcome.signal == SIGKILL) }
            for temporary in Self.temporaries(of: "out.safetensors", in: directory) {
                try FileManager.default.removeItem(atPath: directory + "/" + temporary.name)
            }
        }
        #expect(outcomes.contains("old"), "no kill landed before the rename: \(outcomes)")
    }
}
