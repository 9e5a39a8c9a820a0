import Foundation
import Testing
@_exported import WeightsTestSupport

/// The result of running the `weights` executable.
struct CommandResult {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// The built `weights` executable: beside the test bundle, or in the package's build folder.
func weightsExecutable() throws -> URL {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("weights")
    if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
    #if DEBUG
    let configuration = "debug"
    #else
    let configuration = "release"
    #endif
    let built = packageRoot.appendingPathComponent(".build/\(configuration)/weights")
    guard FileManager.default.isExecutableFile(atPath: built.path) else {
        throw CommandNotBuilt(path: built.path)
    }
    return built
}

struct CommandNotBuilt: Error, CustomStringConvertible {
    var path: String
    var description: String { "the weights executable is not built at \(path): run `swift build` first" }
}

/// Runs `weights` with `arguments`, feeding `input` on standard input.
func runWeights(_ arguments: [String], input: String? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = try weightsExecutable()
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    let inputPipe = Pipe()
    process.standardInput = inputPipe
    try process.run()
    if let input { inputPipe.fileHandleForWriting.write(Data(input.utf8)) }
    try inputPipe.fileHandleForWriting.close()
    // Read before waiting, so a large output can't fill the pipe and stall the child.
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    let errData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus,
                         standardOutput: String(decoding: outData, as: UTF8.self),
                         standardError: String(decoding: errData, as: UTF8.self))
}

func fixture(_ name: String) -> String {
    packageRoot.appendingPathComponent("Fixtures/safetensors/\(name)").path
}

func modelPath() -> String { defaultModelDirectory() + "/model.safetensors" }

func temporaryDirectory() throws -> String { try WeightsTestSupport.temporaryDirectory(prefix: "weights-cli") }
