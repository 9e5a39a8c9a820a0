import Foundation
import Testing
import Weights
import WeightsCompression
import WeightsCore
import WeightsPlatform

/// `decompress(to:)` writes its output through a shared mapping of the temporary file, its
/// blocks reserved first, or with positioned writes where the filesystem can't reserve them:
/// both give the original byte for byte, a damaged container leaves nothing behind either way,
/// and a reservation or a write through the mapping that fails is an `io` error naming the output.
@Suite("Compressed container: restoring through a mapping or positioned writes")
struct CompressRestoreOutputTests {
    /// The ways of writing the output: a mapping (where this filesystem reserves blocks),
    /// positioned writes, and a reservation the filesystem refuses (so positioned writes).
    static var outputs: [(String, CompressedFile.RestoreOutput)] {
        [
            ("automatic", .automatic),
            ("positioned writes", .positionedWrites),
            ("reservation unsupported", .reserving { _, _ in
                errno = EOPNOTSUPP
                return -1
            }),
        ]
    }

    /// The files in `directory` whose name starts with a dot: temporary files left behind.
    static func hiddenFiles(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".") }
    }

    @Test("a safetensors container restores byte for byte every way, synced or not, on 1 and 3 threads",
          arguments: 0..<outputs.count)
    func safetensorsRoundTrip(output: Int) throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = try CompressFixtures.everyDTypeFile(in: directory)
        try CompressedWriter.compress(file: input, to: directory + "/every.wzst",
                                      options: CompressionOptions(level: 1, chunkSize: 4096, threads: 2))
        let original = try CompressFixtures.read(input)
        for threads in [1, 3] {
            for sync in [true, false] {
                for verify in [true, false] {
                    let file = try CompressedFile(path: directory + "/every.wzst", threads: threads)
                    let out = directory + "/back-\(threads)-\(sync)-\(verify).safetensors"
                    var reported: [Int] = []
                    try file.decompress(to: out, verifyDigests: verify, syncToDisk: sync, output: Self.outputs[output].1) { done, total in
                        #expect(total == original.count)
                        reported.append(done)
                    }
                    #expect(try CompressFixtures.read(out) == original, "\(Self.outputs[output].0), \(threads) threads")
                    #expect(reported.last == original.count && reported == reported.sorted())
                }
            }
        }
        #expect(try Self.hiddenFiles(in: directory).isEmpty)
    }

    @Test("a GGUF container restores byte for byte every way", arguments: 0..<outputs.count)
    func ggufRoundTrip(output: Int) throws {
        let (original, container) = try CompressGGUFTests.compressed("gemma-samples.gguf")
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try CompressFixtures.write(container, to: directory + "/c.wzst")
        for threads in [1, 2] {
            let file = try CompressedFile(path: directory + "/c.wzst", threads: threads)
            try file.decompress(to: directory + "/out.gguf", verifyDigests: true, syncToDisk: true, output: Self.outputs[output].1)
            #expect(try CompressFixtures.read(directory + "/out.gguf") == original, "\(Self.outputs[output].0), \(threads) threads")
        }
        #expect(try Self.hiddenFiles(in: directory).isEmpty)
    }

    @Test("a damaged chunk fails the restore every way and leaves no output and no temporary file",
          arguments: 0..<outputs.count)
    func damagedChunk(output: Int) throws {
        let (container, _) = try CompressIntegrityTests.fixture()
        let intact = try CompressFixtures.open(container)
        let entry = try #require(intact.compressedTensors.first { $0.name == "weights.f32" })
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The frames follow the 16-byte prologue, tensor after tensor in data order.
        let start = 16 + intact.compressedTensors.prefix { $0.name != entry.name }.reduce(0) { $0 + $1.compressedSize }
        var damaged = container
        damaged[start + entry.compressedSize / 2] ^= 0x40
        for threads in [1, 2] {
            let file = try CompressFixtures.open(damaged, threads: threads)
            let out = directory + "/out.safetensors"
            for verify in [true, false] {
                let error = #expect(throws: WeightsError.self) {
                    try file.decompress(to: out, verifyDigests: verify, syncToDisk: false, output: Self.outputs[output].1)
                }
                #expect(error?.code == .corruptData && error?.tensor == entry.name && error?.file == "<memory>")
                #expect(!FileManager.default.fileExists(atPath: out))
                #expect(try Self.hiddenFiles(in: directory).isEmpty)
            }
        }
    }

    @Test("a reservation that finds no space is an io error naming the output, before any write, and leaves nothing")
    func noSpace() throws {
        let (container, _) = try CompressIntegrityTests.fixture()
        let file = try CompressFixtures.open(container)
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = directory + "/out.safetensors"
        var asked: [Int64] = []
        let error = #expect(throws: WeightsError.self) {
            try file.decompress(to: out, verifyDigests: true, syncToDisk: true, output: .reserving { _, count in
                asked.append(count)
                errno = ENOSPC
                return -1
            })
        }
        #expect(error?.code == .io && error?.file == out)
        #expect(error?.reason.contains("No space") == true)
        #expect(asked == [Int64(file.originalSize)])
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try Self.hiddenFiles(in: directory).isEmpty)
    }

    @Test("a store through the mapping to a page the file no longer has is an io error naming it, not SIGBUS")
    func faultingStore() throws {
        let directory = try CompressFixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/out.bin"
        let out = try AtomicFile(path: path, syncToDisk: false)
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mapping = try #require(try out.mapForWriting(count: 4 * pageSize))
        unsafe mapping.bytes[10] = 1
        try mapping.checkWrites()
        // Cut the temporary file under the mapping, as an I/O error or another process would
        // take its pages away: the next store past the cut raises SIGBUS, which the guard turns
        // into a store to anonymous memory and a recorded fault.
        let temporary = try #require(try Self.hiddenFiles(in: directory).first)
        #expect(unsafe truncate(directory + "/" + temporary, off_t(pageSize)) == 0)
        unsafe mapping.bytes[3 * pageSize + 5] = 7
        #expect(unsafe mapping.bytes[3 * pageSize + 5] == 7)
        let error = #expect(throws: WeightsError.self) { try mapping.checkWrites() }
        #expect(error?.code == .io && error?.file == path)
    }
}
